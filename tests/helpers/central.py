"""The central collector + dashboard running in-process on free loopback ports, for integration tests."""
from __future__ import annotations

import contextlib

import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

import contract
from central.auth import UserDirectory
from central.collector import Collector, CollectorSettings
from central.history import History
from central.rollup import RetentionSettings
from central.store_names import StoreNames
from central.store import open_store
from central.web.app import create_app
from central.web.events import EventHub
from central.web.limits import REQUEST_DEADLINE_S
from central.web.server import DashboardServer, dashboard_config
from helpers.mosquitto import MosquittoBroker, free_port, wait_for_port

PASSWORD = "correct-horse-1"


class CentralServer:
    """open_store + Collector + EventHub + uvicorn (thread); users: admin (all stores), s1mgr (store s1)."""

    def __init__(self, mqtt_url: str, db_url: str, workdir: Path, allowed_stores: frozenset[str] | None = None,
                 group: str = "tests", history_retention: "RetentionSettings | None" = None,
                 store_names: "StoreNames | None" = None, request_deadline_s: float = REQUEST_DEADLINE_S) -> None:
        self.store = open_store(db_url)
        workdir.mkdir(parents=True, exist_ok=True)
        self.users = UserDirectory(workdir / "users.json")
        self.users.set_user("admin", PASSWORD, ["*"])
        self.users.set_user("s1mgr", PASSWORD, ["s1"])
        self.hub = EventHub()
        self.collector = Collector(
            CollectorSettings(contract.parse_broker_url(mqtt_url), group=group, allowed_stores=allowed_stores, client_id=f"collector-{group}"),
            self.store, on_windows=self.hub.windows, on_kiosk=self.hub.kiosk,
        )
        self.port = free_port()
        app = create_app(self.store, self.users, self.hub, stats=self.collector.stats.snapshot,
                         history=History(self.store, history_retention), store_names=store_names)
        self.server = DashboardServer(dashboard_config(app, "127.0.0.1", self.port, graceful_shutdown_s=1,
                                                       request_deadline_s=request_deadline_s), self.hub)
        self._thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "CentralServer":
        self.collector.start()
        self._thread.start()
        wait_for_port(self.port, timeout=20)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        self.collector.stop()
        self.store.close()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> None:
    """Poll `predicate` until true; fail the test naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def central(mosquitto: MosquittoBroker, tmp_path: Path):
    """A running CentralServer on the test's broker, with its SQLite file `c.db` and its files in tmp_path/central
    (import it with the `mosquitto` fixture beside it)."""
    server = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "central").start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running_dashboard(app: object, hub: EventHub) -> Iterator[str]:
    """`app` served by central's own uvicorn settings (`dashboard_config`) on a free loopback port, in a thread;
    yields its base URL and stops the server afterwards."""
    port = free_port()
    server = DashboardServer(dashboard_config(app, "127.0.0.1", port, graceful_shutdown_s=1), hub)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        wait_for_port(port, timeout=20)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
