"""The dashboard's error responses as a browser gets them: a request that fails inside central (here: the
database lost a table) is a 500 with the same security headers as every other response and no traceback."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn

from central.auth import UserDirectory
from central.store import open_store
from central.web.app import create_app
from central.web.events import EventHub
from central.web.hardening import SECURITY_HEADERS
from central.web.server import DashboardServer
from helpers.central import PASSWORD
from helpers.mosquitto import free_port, wait_for_port

pytestmark = pytest.mark.timeout(60)


def test_a_server_error_carries_the_security_headers_and_no_traceback(tmp_path: Path) -> None:
    db = tmp_path / "central.db"
    store = open_store(f"sqlite:///{db}")
    users = UserDirectory(tmp_path / "users.json")
    users.set_user("office", PASSWORD, ["*"])
    hub = EventHub()
    port = free_port()
    server = DashboardServer(uvicorn.Config(create_app(store, users, hub), host="127.0.0.1", port=port,
                                            log_level="critical"), hub)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port, 20)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
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
        server.should_exit = True
        thread.join(10)
        store.close()
