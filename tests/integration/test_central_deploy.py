"""Central as a service: SQLite URLs mean what --help says, users added without a terminal, HTTPS served
directly with Secure cookies, online backups, and the watchdog that stops when the collector hangs."""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

import contract
from central.backup import backup_sqlite
from central.collector import Collector, CollectorSettings
from central.errors import CentralError
from central.store import SQLiteStore, open_store, sqlite_path
from deploy.notify import Notifier
from helpers.central import PASSWORD
from helpers.mosquitto import MosquittoBroker, free_port, mosquitto, wait_for_port  # noqa: F401  (fixture)
from helpers.windows import mood_document, window
from central.records import WindowRecord

pytestmark = pytest.mark.timeout(120)
CLI = [sys.executable, "-m", "kiosk.cli"]
REPO = Path(__file__).resolve().parents[2]


def test_sqlite_urls_three_slashes_relative_four_absolute(tmp_path, monkeypatch):
    assert sqlite_path("sqlite:///var/central.db") == "var/central.db"
    assert sqlite_path("sqlite:////var/lib/c.db") == "/var/lib/c.db"
    assert sqlite_path("plain/file.db") == "plain/file.db"
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///var/central.db")  # the README's and --db's default
    store.close()
    assert (tmp_path / "var" / "central.db").is_file()
    store = open_store(f"sqlite:///{tmp_path / 'abs.db'}")  # sqlite:////tmp/...: absolute
    store.close()
    assert (tmp_path / "abs.db").is_file()
    with pytest.raises(CentralError, match="no file named"):
        open_store("sqlite:///")


def run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + list(args), input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, env=env or dict(os.environ), cwd=REPO)


def test_central_user_add_without_a_terminal_is_one_line_and_stdin_works(tmp_path):
    users = tmp_path / "users.json"
    result = run_cli("central-user", "add", "mgr", "--store", "s1", "--users", str(users))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "EOFError" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "moodkiosk central-user: error: no terminal to ask for mgr's password; put it in an environment variable "
        "and pass its name with --password-env VAR, or pipe it in with --password-stdin"]
    assert not users.exists()
    piped = run_cli("central-user", "add", "mgr", "--store", "s1", "--users", str(users), "--password-stdin",
                    stdin=PASSWORD + "\n")
    assert piped.returncode == 0 and "mgr may see s1" in piped.stdout
    short = run_cli("central-user", "add", "x", "--store", "s1", "--users", str(users), "--password-stdin", stdin="")
    assert short.returncode == 2 and "shorter than 8" in short.stderr and "Traceback" not in short.stderr


def make_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "dash.crt", folder / "dash.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_dashboard_over_https_with_secure_cookies(tmp_path, mosquitto):
    cert, key = make_certificate(tmp_path)
    users = tmp_path / "users.json"
    assert run_cli("central-user", "add", "mgr", "--store", "s1", "--users", str(users), "--password-stdin",
                   stdin=PASSWORD).returncode == 0
    port = free_port()
    proc = subprocess.Popen(CLI + ["central", "--mqtt", mosquitto.url, "--db", f"sqlite:///{tmp_path / 'c.db'}",
                                   "--http", f"127.0.0.1:{port}", "--users", str(users), "--ingest-processes", "1",
                                   "--tls-cert", str(cert), "--tls-key", str(key)],
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        wait_for_port(port, 30)
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=ssl.create_default_context(cafile=str(cert)),
                          timeout=10) as client:
            response = client.post("/api/login", json={"username": "mgr", "password": PASSWORD})
            assert response.status_code == 200
            cookie = response.headers["set-cookie"]
            assert "secure" in cookie.lower() and "httponly" in cookie.lower()
            assert client.get("/api/kiosks").status_code == 200
        with pytest.raises(httpx.HTTPError):  # plain HTTP on the HTTPS port gets nothing useful
            httpx.get(f"http://127.0.0.1:{port}/api/kiosks", timeout=5).raise_for_status()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert f"dashboard on https://127.0.0.1:{port}/" in err


def test_bad_certificate_options_are_one_line(tmp_path):
    cert, key = make_certificate(tmp_path)
    (tmp_path / "other").mkdir()
    other_cert, _ = make_certificate(tmp_path / "other")
    users = tmp_path / "users.json"
    users.write_text("{}", encoding="utf-8")
    cases = [
        (["--tls-cert", str(cert)], "--tls-cert is set but --tls-key is not"),
        (["--tls-cert", str(tmp_path / "nope.crt"), "--tls-key", str(key)], f"--tls-cert {tmp_path / 'nope.crt'}: no such file"),
        (["--tls-cert", str(other_cert), "--tls-key", str(key)], "not a PEM certificate and matching key"),
    ]
    for extra, expected in cases:
        result = run_cli("central", "--users", str(users), "--db", f"sqlite:///{tmp_path / 'c.db'}", *extra)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-1500:]
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("moodkiosk central: error: ") and expected in lines[0], lines


def test_a_ca_file_of_the_wrong_kind_is_one_line(tmp_path):
    """`--ca-file` missing, a folder or not PEM (/dev/null) ended central with a FileNotFoundError /
    IsADirectoryError / ssl.SSLError traceback from paho's tls_set and exit code 1."""
    users = tmp_path / "users.json"
    users.write_text('{"users": {}}', encoding="utf-8")
    for ca, expected in ((tmp_path / "nope.pem", "No such file"), (tmp_path, "directory"),
                         (Path("/dev/null"), "not a regular file")):
        result = run_cli("central", "--users", str(users), "--db", f"sqlite:///{tmp_path / 'c.db'}",
                         "--mqtt", "mqtts://127.0.0.1:1", "--ca-file", str(ca))
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-1500:]
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and f"--ca-file {ca}" in lines[0] and expected in lines[0], lines
    (tmp_path / "text.pem").write_text("not a certificate\n")
    result = run_cli("central", "--users", str(users), "--mqtt", "mqtts://127.0.0.1:1", "--ca-file",
                     str(tmp_path / "text.pem"))
    assert result.returncode == 2 and "not a PEM CA bundle" in result.stderr, result.stderr[-1500:]


def records(count: int, offset: int = 0) -> list[WindowRecord]:
    """Real mood.v1 documents as the collector turns them into rows."""
    from central.collector import record_from
    from tests.helpers.windows import mood

    return [record_from(mood("s1", "k1", i + 1, i), time.time()) for i in range(offset, offset + count)]


def test_backup_of_a_database_being_written(tmp_path):
    db = tmp_path / "central.db"
    store = SQLiteStore(db)
    store.migrate()
    store.insert_windows(records(500))
    stop = threading.Event()
    written = [500]

    def keep_writing() -> None:  # the collector goes on while the backup runs
        while not stop.is_set():
            store.insert_windows(records(50, written[0]))
            written[0] += 50

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        time.sleep(0.2)
        result = run_cli("central-backup", "--db", f"sqlite:///{db}", str(tmp_path / "backup.db"))
    finally:
        stop.set()
        writer.join(10)
        store.close()
    assert result.returncode == 0, result.stderr
    copy = sqlite3.connect(tmp_path / "backup.db")
    count = copy.execute("SELECT count(*) FROM windows").fetchone()[0]
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy.close()
    assert 500 <= count <= written[0] and f"backed up {count} windows" in result.stdout
    with pytest.raises(CentralError, match="pg_dump"):
        backup_sqlite("postgresql://u@h/db", tmp_path / "x.db")
    missing = run_cli("central-backup", "--db", f"sqlite:///{tmp_path / 'none.db'}", str(tmp_path / "b2.db"))
    assert missing.returncode == 2 and missing.stderr.strip().endswith("does not exist")


class NotifySocket:
    """A real notify socket as systemd has one: collects what the service sends."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []

    def collect(self, seconds: float) -> list[str]:
        deadline = time.monotonic() + seconds
        got = []
        while time.monotonic() < deadline:
            try:
                got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                continue
        return got

    def close(self) -> None:
        self.sock.close()


class HangingStore(SQLiteStore):
    """A real SQLite store whose writes can be made to hang (a stuck database driver)."""

    hang = threading.Event()
    release = threading.Event()

    def store_windows(self, records):  # type: ignore[override]
        if self.hang.is_set():
            self.release.wait(30)
        return super().store_windows(records)


def test_collector_watchdog_stops_pinging_when_its_loop_hangs(tmp_path, mosquitto):
    from deploy.notify import WatchdogThread
    from kiosk.config import MqttConfig
    from kiosk.services.spool import Spool
    from kiosk.services.telemetry import TelemetryPublisher

    notify = NotifySocket(tmp_path)
    store = HangingStore(tmp_path / "c.db")
    store.migrate()
    collector = Collector(CollectorSettings(contract.parse_broker_url(mosquitto.url), group="wd", client_id="wd-collector"), store)
    collector.start()
    notifier = Notifier({"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "3000000"})
    watchdog = WatchdogThread(notifier, collector.alive)
    publisher = TelemetryPublisher(MqttConfig(url=mosquitto.url, health_interval_s=3600), "s1", "k1",
                                   Spool(tmp_path / "spool.sqlite", 100))
    try:
        assert watchdog.start()
        assert notify.collect(3.5).count("WATCHDOG=1") >= 2  # every second while healthy
        HangingStore.hang.set()
        publisher.start()
        publisher.submit_window(window(0), {"happy": 0, "neutral": 0, "unhappy": 0}, "t")
        deadline = time.monotonic() + 10
        while collector.stats.received < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert collector.stats.received >= 1
        notify.collect(3.5)  # the writer is stuck in the database: its last round gets older than 3 s
        assert "WATCHDOG=1" not in notify.collect(3.0)
        HangingStore.release.set()
        assert "WATCHDOG=1" in notify.collect(3.0)  # healthy again: pings again
    finally:
        HangingStore.release.set()
        publisher.stop()
        watchdog.stop()
        collector.stop()
        store.close()
        notify.close()
