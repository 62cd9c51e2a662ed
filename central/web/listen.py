"""The dashboard's listening socket, bound before central starts anything else.

uvicorn bound it only after the collector had joined the broker's group; an address this machine does not
have, a name that does not resolve or a port in use then ended central with uvicorn's "ERROR: [Errno 98] ..."
and exit code 3 instead of one line naming --http and exit code 2."""
from __future__ import annotations

import socket

from central.errors import CentralError

BACKLOG = 2048  # uvicorn's default


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for `host:port` (the first address the name resolves to), or CentralError."""
    where = f"--http {host}:{port}" if ":" not in host else f"--http [{host}]:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise CentralError(f"{where}: {host!r} is not an address of this machine ({exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise CentralError(f"{where}: cannot listen ({exc.strerror or exc})") from None
    sock.set_inheritable(True)
    return sock
