"""An attacker's audit of central: each test is one hostile input or fault that broke central before, against
the real parts (Mosquitto, SQLite files, uvicorn over a socket)."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from helpers.central import PASSWORD, CentralServer
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def central(mosquitto: MosquittoBroker, tmp_path: Path):  # noqa: F811
    server = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "central").start()
    try:
        yield server
    finally:
        server.stop()


def _raw_request(port: int, head: bytes, body_parts: list[bytes], wait_s: float = 5.0) -> bytes:
    """Send a request head and some of its body over a plain socket, then read what the server answers
    within `wait_s` (without ever sending the rest of a body it announced)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(head)
        for part in body_parts:
            try:
                sock.sendall(part)
            except OSError:  # the server already answered and closed
                break
        answer = b""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and b"\r\n\r\n" not in answer:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            answer += chunk
        return answer


def test_a_huge_request_body_is_refused_before_it_is_read(central: CentralServer) -> None:
    """Before: FastAPI read any login body whole (200 MB: 19 s, 200 MB of memory, then 422), logged in or not."""
    declared = (b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 200000000\r\n\r\n")
    answer = _raw_request(central.port, declared, [b'{"username":"admin","password":"' + b"x" * 1000])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"content-security-policy" in answer.lower()  # the refusal carries the security headers too

    chunk = b"x" * 32768
    chunked = (b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")
    parts = [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(4)]  # 128 KiB, never ended
    answer = _raw_request(central.port, chunked, parts)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]

    # a login of ordinary size still works, on a plain and on a chunked body
    assert httpx.post(central.http + "/api/login", json={"username": "admin", "password": PASSWORD},
                      timeout=30).status_code == 200
    body = f'{{"username":"admin","password":"{PASSWORD}"}}'.encode()
    response = httpx.post(central.http + "/api/login", content=iter([body[:10], body[10:]]),
                          headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 200
