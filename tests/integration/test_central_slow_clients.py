"""Slow clients against the real dashboard server (uvicorn + the request deadline, real sockets).

Before: uvicorn's keep-alive timer was reset by every byte, so a client sending one header byte at a time held
its connection for as long as it liked; thousands of them starve the dashboard ("slowloris")."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from helpers.central import PASSWORD, CentralServer, wait_until
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(90)
DEADLINE_S = 1.0


def _closed_after(sock: socket.socket, trickle: bytes, limit_s: float) -> float | None:
    """Send `trickle` one byte every 0.2 s; the seconds until the server closed the connection, or None."""
    started = time.monotonic()
    sock.settimeout(0.2)
    for byte in trickle:
        if time.monotonic() - started > limit_s:
            return None
        try:
            sock.sendall(bytes([byte]))
            if sock.recv(4096) == b"":
                return time.monotonic() - started
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - started
    return None


def test_a_request_trickled_byte_by_byte_is_cut_off_and_others_are_served(
        mosquitto: MosquittoBroker, tmp_path: Path) -> None:  # noqa: F811
    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path,
                            request_deadline_s=DEADLINE_S).start()
    try:
        slow = socket.create_connection(("127.0.0.1", central.port))
        # The request line and headers, one byte every 0.2 s, never finishing (100 headers = 20+ s).
        trickle = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(100))
        results: list[float | None] = []
        sender = threading.Thread(target=lambda: results.append(_closed_after(slow, trickle, 15.0)))
        sender.start()
        time.sleep(0.3)
        assert httpx.get(central.http + "/", timeout=5).status_code == 200  # others are served meanwhile
        sender.join(20)
        slow.close()
        assert results and results[0] is not None, "a trickling client kept its connection for 15 s"
        assert DEADLINE_S - 0.1 <= results[0] <= DEADLINE_S + 2.0, results

        # A kept-alive connection: the first request is answered, the next one trickled is cut off too.
        kept = socket.create_connection(("127.0.0.1", central.port))
        kept.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        kept.settimeout(5)
        first = kept.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first[:80]
        time.sleep(0.3)  # let the rest of the page arrive
        kept.setblocking(True)
        kept.settimeout(0.2)
        try:
            while kept.recv(65536):
                pass
        except socket.timeout:
            pass
        assert _closed_after(kept, trickle, 15.0) is not None
        kept.close()
    finally:
        central.stop()


def test_a_live_stream_outlives_the_request_deadline(mosquitto: MosquittoBroker, tmp_path: Path) -> None:  # noqa: F811
    """The deadline covers receiving a request, never a response: a manager's live mood feed stays open."""
    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path,
                            request_deadline_s=DEADLINE_S).start()
    try:
        with httpx.Client(base_url=central.http, timeout=httpx.Timeout(10, read=20)) as client:
            assert client.post("/api/login", json={"username": "admin", "password": PASSWORD}).status_code == 200
            with client.stream("GET", "/api/events") as stream:
                assert stream.status_code == 200
                wait_until(lambda: central.hub.streams_of("admin") == 1, 5, "the stream open")
                time.sleep(DEADLINE_S * 3)
                assert central.hub.streams_of("admin") == 1  # still open after three deadlines
                assert client.get("/api/kiosks").status_code == 200  # and the session is fine
    finally:
        central.stop()
