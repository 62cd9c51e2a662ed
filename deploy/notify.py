"""systemd's notify protocol (READY, STATUS, WATCHDOG) over $NOTIFY_SOCKET, and a watchdog fed by liveness checks.

The protocol is one datagram of text per message to a Unix socket (sd_notify(3)); the well-kept binding
(`systemd-python`) needs a C compiler and libsystemd headers on every kiosk, so this module speaks it itself.
Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Callable, Mapping

logger = logging.getLogger(__name__)

MIN_MAX_AGE_S = 3.0  # the shortest "last turned within" a liveness check is asked for


class Notifier:
    """Sends sd_notify messages; a no-op when the service manager did not ask for them."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address  # "@name": abstract socket
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        usec = env.get("WATCHDOG_USEC", "")
        # WATCHDOG_PID is not checked: the kiosk runs as a child of its session (xinit, cage), whose units set
        # NotifyAccess=all so that the kiosk's pings count for the whole service.
        self.watchdog_s: float | None = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 else None

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def send(self, text: str) -> bool:
        """Send one message such as "READY=1"; False (logged once at debug level) when it cannot be sent."""
        if not self._address:
            return False
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto(text.encode("utf-8"), self._address)
            except OSError as exc:
                logger.debug("sd_notify %s failed: %s", text, exc)
                return False
        return True

    def ready(self, status: str = "") -> None:
        self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def ping(self) -> None:
        self.send("WATCHDOG=1")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


class WatchdogThread:
    """Pings the service manager every third of its watchdog interval while `healthy()` says yes, so systemd
    restarts the service when what `healthy` checks (e.g. the MQTT loop) hangs. Not started without a watchdog."""

    def __init__(self, notifier: Notifier, healthy: Callable[[float], bool], name: str = "sd-watchdog") -> None:
        self._notifier = notifier
        self._healthy = healthy
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._warned = False

    def start(self) -> bool:
        if self._notifier.watchdog_s is None:
            return False
        self._thread.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        interval = (self._notifier.watchdog_s or 30.0) / 3
        while not self._stop.wait(interval):
            # paho's network loop turns about once a second when idle: never ask for fresher than 3 s
            if self._healthy(max(interval * 2, MIN_MAX_AGE_S)):
                self._notifier.ping()
                self._warned = False
            elif not self._warned:
                self._warned = True
                logger.error("watchdog: a service loop stopped answering; systemd will restart the service")
