"""BufferedSocket over a real socket pair: paho's 1-byte and body reads are served from one large read."""
from __future__ import annotations

import socket

import pytest

from central.mqtt_reader import BufferedSocket


def test_reads_are_served_from_one_chunk_and_pending_counts_them() -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    wrapped = BufferedSocket(a)
    try:
        b.sendall(b"\x30\x05hello\x40\x02")
        assert wrapped.recv(1) == b"\x30"           # the whole 9 bytes were read, one handed out
        assert wrapped.buffered() == 8 and wrapped.pending() == 8
        assert wrapped.recv(1) == b"\x05"
        assert wrapped.recv(5) == b"hello"
        assert wrapped.recv(10) == b"\x40\x02"     # a short read, as a socket may give
        assert wrapped.pending() == 0
        with pytest.raises(BlockingIOError):        # nothing buffered, nothing on the wire: paho's "try later"
            wrapped.recv(1)
        assert wrapped.fileno() == a.fileno()       # everything else is the socket's own
        b.close()
        assert wrapped.recv(1) == b""               # the peer closed: paho sees the end of the connection
    finally:
        a.close()
