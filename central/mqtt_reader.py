"""A paho-mqtt client that reads the socket in 64 KiB chunks instead of one system call per header byte.

paho 2.x reads every packet with ``recv(1)`` for the command byte, ``recv(1)`` per length byte and one more
``recv`` for the body, and calls ``select()`` before each packet. At fleet ingest rates (thousands of small
QoS 1 windows a second) those system calls were ~17 % of the collector's profile samples. Here the socket is
wrapped so ``recv`` is served from a buffer that is refilled with one large read, and ``loop_read`` keeps
handling packets while complete bytes sit in that buffer. The wrapper offers ``pending()`` (as an SSL socket
does), which paho already consults so it does not block in ``select()`` while buffered bytes remain; TLS works
unchanged because the wrapper sits on top of whatever socket paho made.
"""
from __future__ import annotations

import time
from typing import Any

import paho.mqtt.client as mqtt

READ_CHUNK = 65536
MAX_PACKETS_PER_READ = 1000  # then return to paho's loop so queued acknowledgements and pings get written


class BufferedSocket:
    """Serves ``recv(n)`` from a read-ahead buffer; everything else goes to the wrapped socket."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buffer = b""
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        if self._pos >= len(self._buffer):
            data = self._sock.recv(max(bufsize, READ_CHUNK))  # BlockingIOError/SSL errors reach paho as before
            if len(data) <= bufsize:
                self._buffer, self._pos = b"", 0
                return data
            self._buffer, self._pos = data, 0
        end = self._pos + bufsize
        chunk = self._buffer[self._pos:end]
        self._pos = min(end, len(self._buffer))
        return chunk

    def buffered(self) -> int:
        """Bytes read from the network and not yet handed to paho."""
        return len(self._buffer) - self._pos

    def pending(self) -> int:
        """What paho asks an SSL socket before ``select()``: > 0 means "do not wait, there is data"."""
        inner = getattr(self._sock, "pending", None)
        return self.buffered() + (inner() if inner is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class BufferedReadClient(mqtt.Client):
    """``paho.mqtt.client.Client`` with buffered socket reads (see the module docstring)."""

    last_loop = 0.0  # time.monotonic() of the network loop's latest round (read by the service watchdog)

    def _create_socket(self) -> Any:  # paho's hook for the connection's socket (TLS and proxies included)
        return BufferedSocket(super()._create_socket())

    def loop_misc(self) -> mqtt.MQTTErrorCode:
        """paho calls this at the end of every network-loop round (at least once a second while connected):
        a loop stuck in a callback stops updating `last_loop`."""
        self.last_loop = time.monotonic()
        return super().loop_misc()

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        for _ in range(MAX_PACKETS_PER_READ):
            sock = self.socket()
            if rc != mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS or not isinstance(sock, BufferedSocket) or not sock.buffered():
                break
            rc = super().loop_read(max_packets)
        return rc
