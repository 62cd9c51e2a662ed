"""Run `moodkiosk ARGS...` with a Python audit hook that records every outgoing network call of the process
(socket.connect, socket.getaddrinfo, socket.gethostbyname, ...) as JSON lines in $MOODKIOSK_AUDIT_LOG."""
from __future__ import annotations

import json
import os
import sys

_EVENTS = {"socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
           "socket.sendto", "urllib.Request", "http.client.connect"}


def _hook(event: str, args: tuple) -> None:
    if event not in _EVENTS:
        return
    parts = [repr(a) if not isinstance(a, (str, int, float, type(None))) else a for a in args]
    if event in ("socket.connect", "socket.sendto", "socket.bind") and args:
        parts = [repr(args[0].family), repr(args[-1])]  # family and address
    with open(os.environ["MOODKIOSK_AUDIT_LOG"], "a", encoding="utf-8") as out:
        out.write(json.dumps({"event": event, "args": parts}) + "\n")


if __name__ == "__main__":
    sys.addaudithook(_hook)
    from kiosk.cli import main

    raise SystemExit(main(sys.argv[1:]))
