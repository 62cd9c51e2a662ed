"""Dashboard access follows the users file while central runs; tokens are named, expire and are revoked one
by one; the login throttle is atomic and per name and address; headers, /docs and bad query parameters."""
from __future__ import annotations

import concurrent.futures
import contextlib
import time
from pathlib import Path

import httpx
import pytest

from central.auth import UserDirectory
from helpers.central import PASSWORD, CentralServer, central, wait_until  # noqa: F401  (central: fixture)
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(120)



def _status(base: str, path: str, token: str) -> int:
    return httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def test_access_follows_the_users_file_within_a_second(central: CentralServer) -> None:
    base = central.http
    other = UserDirectory(central.users.path)  # what `moodkiosk central-user` does in another process
    token = other.new_token("s1mgr", "grafana")
    session = httpx.Client(base_url=base, timeout=10)
    assert session.post("/api/login", json={"username": "s1mgr", "password": PASSWORD}).status_code == 200
    assert session.get("/api/me").status_code == 200 and _status(base, "/api/me", token) == 200

    other.set_user("newbie", "a new password", ["s2"])  # added while central runs: may log in at once
    began = time.monotonic()
    wait_until(lambda: httpx.post(base + "/api/login", json={"username": "newbie", "password": "a new password"},
                                  timeout=10).status_code == 200, 1.5, "the new user can log in")
    added = time.monotonic() - began
    other.remove_user("s1mgr")  # removed: session and token end
    began = time.monotonic()
    wait_until(lambda: session.get("/api/me").status_code == 401 and _status(base, "/api/me", token) == 401, 1.0,
               "the removed user's session and token refused")
    print(f"\n[access] new user logged in {added:.2f} s after the file changed (incl. the scrypt check); removed "
          f"user refused after {time.monotonic() - began:.2f} s")

    admin = httpx.Client(base_url=base, timeout=10)
    assert admin.post("/api/login", json={"username": "admin", "password": PASSWORD}).status_code == 200
    other.set_user("admin", "changed password", ["*"])  # a new password ends the old sessions
    wait_until(lambda: admin.get("/api/me").status_code == 401, 1.5, "the old password's session refused")


def test_tokens_are_named_expire_and_are_revoked_one_by_one(tmp_path: Path) -> None:
    users = UserDirectory(tmp_path / "u.json")
    users.set_user("it", "long enough", ["*"])
    a, b = users.new_token("it", "grafana"), users.new_token("it", "backup", days=None)
    short = users.new_token("it", "short", days=1e-6)  # expires after ~0.1 s
    time.sleep(0.2)
    assert users.by_token(a).name == "it" and users.by_token(b).name == "it" and users.by_token(short) is None
    users.revoke_token("it", "grafana")
    assert users.by_token(a) is None and users.by_token(b).name == "it"
    assert [t.label for t in users.tokens("it")] == ["backup", "short"]


def test_forty_concurrent_wrong_logins_get_at_most_five_password_checks(central: CentralServer) -> None:
    base = central.http

    def attempt(_: int) -> int:
        return httpx.post(base + "/api/login", json={"username": "admin", "password": "wrong guess"},
                          timeout=60).status_code

    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        codes = list(pool.map(attempt, range(40)))
    checked = codes.count(401)  # a 401 is a password check that ran; 429 was refused before it
    print(f"\n[throttle] password checks that got through under 40 concurrent wrong logins: {checked} "
          f"(429: {codes.count(429)})")
    assert checked <= 5 and codes.count(429) == 40 - checked
    # The real admin, from another address, is not locked out by the attacker's failures.
    other_address = httpx.Client(base_url=base, timeout=30,
                                 transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    assert other_address.post("/api/login", json={"username": "admin", "password": PASSWORD}).status_code == 200


def test_headers_docs_bad_parameters_and_stream_cap(central: CentralServer) -> None:
    base = central.http
    token = central.users.new_token("admin", "ops")
    auth = {"Authorization": f"Bearer {token}"}
    page = httpx.get(base + "/", timeout=10)
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["referrer-policy"] == "no-referrer"
    # A store's figures are not kept by a shared shop PC's browser or a proxy (before: no Cache-Control at all).
    for path, client_auth in (("/api/kiosks", auth), ("/api/stats", auth), ("/api/kiosks", {})):
        assert httpx.get(base + path, headers=client_auth, timeout=10).headers["cache-control"] == "no-store", path
    assert httpx.get(base + "/docs", timeout=10).status_code == 404
    assert httpx.get(base + "/openapi.json", timeout=10).status_code == 404
    for query in ("tz=Etc", "tz=../../etc/passwd", "tz=" + "x" * 300, "tz=%00", "date=2026-02-30", "date=x",
                  "bucket_s=abc", "bucket_s=1", "bucket_s=" + "9" * 400):
        response = httpx.get(f"{base}/api/stores/s1/day?{query}", headers=auth, timeout=10)
        assert 400 <= response.status_code < 500, (query, response.status_code, response.text)
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(httpx.Client(base_url=base, headers=auth, timeout=10))
        for _ in range(8):
            stream = stack.enter_context(client.stream("GET", "/api/events"))
            assert stream.status_code == 200
        wait_until(lambda: central.hub.streams_of("admin") == 8, 5, "eight streams open")
        assert client.get("/api/events").status_code == 429


def test_api_docs_only_when_asked(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from central.store import open_store
    from central.web.app import create_app
    from central.web.events import EventHub

    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    users = UserDirectory(tmp_path / "u.json")
    with TestClient(create_app(store, users, EventHub(), api_docs=True)) as client:
        assert "/api/kiosks" in client.get("/openapi.json").json()["paths"]
        assert client.get("/docs").status_code == 200
    store.close()
