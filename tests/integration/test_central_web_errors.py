"""The dashboard's error responses as a browser gets them: a request that fails inside central (here: the
database lost a table) is a 500 with the same security headers as every other response and no traceback."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from central.auth import UserDirectory
from central.store import open_store
from central.web.app import create_app
from central.web.events import EventHub
from central.web.hardening import SECURITY_HEADERS
from helpers.central import PASSWORD, running_dashboard

pytestmark = pytest.mark.timeout(60)


def test_a_server_error_carries_the_security_headers_and_no_traceback(tmp_path: Path) -> None:
    db = tmp_path / "central.db"
    store = open_store(f"sqlite:///{db}")
    users = UserDirectory(tmp_path / "users.json")
    users.set_user("office", PASSWORD, ["*"])
    hub = EventHub()
    try:
        with running_dashboard(create_app(store, users, hub), hub) as base:
            client = httpx.Client(base_url=base, timeout=10)
            assert client.post("/api/login", json={"username": "office", "password": PASSWORD}).status_code == 200
            with sqlite3.connect(db) as other:  # someone "cleans up" the database under the running central
                other.execute("DROP TABLE alerts")
            broken = client.get("/api/alerts")
            assert broken.status_code == 500
            missing = [name for name in SECURITY_HEADERS if name.lower() not in broken.headers]
            assert missing == [], f"500 without {missing}"
            assert "Traceback" not in broken.text and "alerts" not in broken.text and str(tmp_path) not in broken.text
            assert broken.headers["content-type"].startswith("application/json")
    finally:
        store.close()
