"""An attacker's audit of central: each test is one hostile input or fault that broke central before, against
the real parts (Mosquitto, SQLite files, uvicorn over a socket)."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import contract
from central.auth import UserDirectory
from central.backup import backup_sqlite
from central.collector import CollectorSettings
from central.offers_store import store_offer_days
from central.rollup import RetentionSettings, Rollup
from central.store import Store, StoreError, open_store
from contract.offers import OffersDay, encode_offers
from helpers.central import PASSWORD, CentralServer, central, wait_until  # noqa: F401  (central: fixture)
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)
from helpers.postgres import postgres_server  # noqa: F401  (fixture)
from helpers.history_data import records
from helpers.windows import mood, window

pytestmark = pytest.mark.timeout(120)



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


def _publisher(broker: MosquittoBroker, name: str = "hostile-publisher") -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def _health(store: str, kiosk: str, uptime: int) -> bytes:
    return json.dumps({"schema_version": "health.v1", "store": store, "kiosk": kiosk,
                       "sent_at": contract.format_utc(datetime.now(timezone.utc)), "uptime_s": uptime,
                       "spool_depth": 0, "spool_dropped": 0}).encode()


@contextlib.contextmanager
def _central_with_a_locked_database(broker: MosquittoBroker, tmp_path: Path, **settings: object):
    """Central (collector settings changed by `settings`), a publisher, and a connection holding SQLite's
    write lock as another process would (the writer waits: a transient error); all ended afterwards."""
    db = tmp_path / "c.db"
    server = CentralServer(broker.url, f"sqlite:///{db}", tmp_path / "central")
    server.collector.settings = dataclasses.replace(server.collector.settings, **settings)  # type: ignore[arg-type]
    server.start()
    lock = sqlite3.connect(db, isolation_level=None)
    client = _publisher(broker)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        yield server, client, lock
    finally:
        with contextlib.suppress(sqlite3.Error):
            lock.execute("ROLLBACK")
        lock.close()
        client.loop_stop()
        client.disconnect()
        server.stop()


def test_a_health_flood_while_the_database_is_locked_does_not_fill_memory(mosquitto: MosquittoBroker,  # noqa: F811
                                                                          tmp_path: Path) -> None:
    """Before: health is QoS 0 (no broker flow control), and every message waited in the collector's inbox
    while the database was busy: 10,000 from one kiosk were 10,000 queued objects, without bound. Health is
    last-value-wins, so one waiting report per kiosk is all the writer needs."""
    with _central_with_a_locked_database(mosquitto, tmp_path) as (server, client, lock):
        client.publish("moodkiosk/v1/s1/k1/health", _health("s1", "k1", 1), qos=0).wait_for_publish(5)
        wait_until(lambda: server.collector.stats.received >= 1, 10, "the first health report")
        flood = 10_000
        for i in range(2, flood + 2):
            client.publish("moodkiosk/v1/s1/k1/health", _health("s1", "k1", i), qos=0)
        client.publish("moodkiosk/v1/s1/k2/health", _health("s1", "k2", 7), qos=0).wait_for_publish(10)
        wait_until(lambda: server.collector.stats.received >= flood + 2, 60, "the flood received")
        queued = server.collector.queued
        print(f"\n[flood] {flood} health reports from one kiosk while the database was locked: {queued} queued")
        assert queued <= 3, queued
        lock.execute("ROLLBACK")
        wait_until(lambda: {k.kiosk: (k.health or {}).get("uptime_s") for k in server.store.kiosks(["s1"])}
                   == {"k1": flood + 1, "k2": 7}, 60, "the newest report of each kiosk stored")

def test_the_broker_never_hands_the_collector_a_giant_message(mosquitto: MosquittoBroker,  # noqa: F811
                                                               tmp_path: Path) -> None:
    """Before: a broker without `message_size_limit` (Mosquitto's default allows 256 MB) delivered a 20 MB
    'window' whole; the collector read it into memory (and copied it) only to reject it as oversized. The
    collector now tells the broker its maximum packet size at connect (MQTT 5), so the broker drops such a
    message for it. Messages a little over the contract's limit still arrive and are counted as oversized."""
    server = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "central").start()
    client = _publisher(mosquitto)
    try:
        topic = "moodkiosk/v1/s1/k1/mood"
        client.publish(topic, b"{" + b" " * 20_000_000 + b"}", qos=1).wait_for_publish(30)
        client.publish(topic, b"{" + b" " * 10_000 + b"}", qos=1).wait_for_publish(10)
        client.publish(topic, mood("s1", "k1", 1, 1).encode(), qos=1).wait_for_publish(10)
        wait_until(lambda: server.store.count_windows() == 1, 20, "the valid window stored")
        stats = server.collector.stats.snapshot()
        assert stats["rejected"] == {"oversized": 1} and stats["received"] == 2, stats
    finally:
        client.loop_stop()
        client.disconnect()
        server.stop()


def _central_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    users = tmp_path / "users.json"
    if not users.exists():
        UserDirectory(users).set_user("it", PASSWORD, ["*"])
    return subprocess.run([sys.executable, "-m", "kiosk", "central", "--users", str(users),
                           "--mqtt", "mqtt://127.0.0.1:1", "--http", "127.0.0.1:18099", *args],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)


def _one_line_exit_2(run: subprocess.CompletedProcess[str]) -> str:
    errors = [line for line in run.stderr.splitlines() if " INFO " not in line]
    assert run.returncode == 2 and len(errors) == 1 and "Traceback" not in run.stderr, run.stderr[-2000:]
    return errors[0]


def test_a_database_central_cannot_migrate_or_a_broken_url_is_one_line(tmp_path: Path, postgres_server) -> None:
    """Before: a SQLite file of another application (a `windows` table of its own) ended `moodkiosk central`
    with sqlite3's traceback, and `--db 'postgresql://u:pw@[::1/x'` with urllib's ValueError traceback
    (after libpq's message, which quotes the URL, password and all)."""
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE windows (x)")
        conn.commit()
    line = _one_line_exit_2(_central_cli(tmp_path, "--db", f"sqlite:///{other}"))
    assert "cannot bring it to this version's schema (table windows already exists)" in line, line

    line = _one_line_exit_2(_central_cli(tmp_path, "--db", "postgresql://u:s3cret@[::1/x"))
    assert "cannot connect" in line and "s3cret" not in line, line

    url = postgres_server.create_database("foreign_app")
    with contextlib.closing(psycopg.connect(url, autocommit=True)) as conn:
        conn.execute("CREATE TABLE windows (x int)")
    with pytest.raises(StoreError, match="cannot bring it to this version's schema"):
        open_store(url)


def test_a_group_or_process_count_central_cannot_use_is_refused_at_once(mosquitto: MosquittoBroker, tmp_path: Path) -> None:  # noqa: F811
    """Before: `--group a/b` passed; at connect the subscription could not be built, the exception stayed in
    paho's callback barrier, and central waited 10 s for a connection it never counted, then blamed the broker."""
    for group in ("a/b", "#"):
        run = subprocess.run([sys.executable, "-m", "kiosk", "central", "--mqtt", mosquitto.url, "--group", group],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert run.returncode == 2 and "--group" in run.stderr and "Traceback" not in run.stderr, run.stderr[-2000:]
    for processes in ("0", "100000"):  # 100000 used to start 99,999 worker processes
        run = subprocess.run([sys.executable, "-m", "kiosk", "central", "--mqtt", mosquitto.url, "--ingest-processes",
                              processes], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert run.returncode == 2 and "--ingest-processes" in run.stderr and "Traceback" not in run.stderr, \
            run.stderr[-2000:]
    with pytest.raises(contract.ContractError, match="subscription group"):
        CollectorSettings(contract.parse_broker_url(mosquitto.url), group="a/b")


def _hour_row(store: Store, kiosk: str, hour: float) -> tuple[int, int]:
    rows = store._fetch(store._conn(), "SELECT windows, people FROM rollups WHERE store_id = 's1' AND kiosk_id = ? "
                        "AND width_s = 3600 AND start = ?", (kiosk, hour))
    return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_window_redelivered_after_its_raw_row_was_pruned_is_not_counted_twice(
        backend: str, mosquitto: MosquittoBroker, tmp_path: Path, postgres_server) -> None:  # noqa: F811
    """Before: the ordering rule judges a window against its kiosk's stored neighbours, but raw windows are
    pruned after --raw-days (35) while windows up to --max-window-age-days (366) old are accepted. A window
    redelivered (or replayed with other numbers) after its raw row was pruned had no neighbours, was stored
    again and rolled up again: its hour and day counted it twice. Central now remembers, per kiosk, up to
    where raw windows were pruned, and refuses windows from there as `pruned`."""
    db = (f"sqlite:///{tmp_path / 'c.db'}" if backend == "sqlite"
          else postgres_server.create_database(f"pruned_{int(time.time() * 1000)}"))
    server = CentralServer(mosquitto.url, db, tmp_path / "central").start()
    client = _publisher(mosquitto)
    try:
        old = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(days=40)
        docs = [contract.MoodDocument.from_window("s1", "k1", seq, window(seq, t0=old), {"happy": 1}, "test-1")
                for seq in (1, 2, 3)]
        for doc in docs[:2]:
            client.publish("moodkiosk/v1/s1/k1/mood", doc.encode(), qos=1).wait_for_publish(10)
        wait_until(lambda: server.store.count_windows() == 2, 20, "two windows of 40 days ago stored")
        rollup = Rollup(server.store, RetentionSettings())
        result = rollup.run_once()
        assert result.rolled == 2 and result.pruned_windows == 2, result
        hour = old.timestamp()
        counted = _hour_row(server.store, "k1", hour)
        assert counted[0] == 2

        replayed = contract.MoodDocument.from_window("s1", "k1", 1, window(1, t0=old), {"happy": 9}, "test-1")
        for payload in (docs[0].encode(), replayed.encode(), docs[1].encode()):  # redeliveries and a replay
            client.publish("moodkiosk/v1/s1/k1/mood", payload, qos=1).wait_for_publish(10)
        client.publish("moodkiosk/v1/s1/k1/mood", docs[2].encode(), qos=1).wait_for_publish(10)  # later: new
        wait_until(lambda: server.collector.stats.snapshot()["stored"] == 3
                   and server.collector.stats.snapshot()["rejected_total"] == 3, 20, "all six messages handled")
        rollup.roll()
        assert _hour_row(server.store, "k1", hour) == (counted[0] + 1, counted[1] + docs[2].people)
        assert server.collector.stats.snapshot()["rejected"] == {"pruned": 3}
    finally:
        client.loop_stop()
        client.disconnect()
        server.stop()


def test_an_offers_report_about_a_day_no_kiosk_can_report_is_refused(mosquitto: MosquittoBroker,  # noqa: F811
                                                                      tmp_path: Path) -> None:
    """Before: only `sent_at` was bounded; a report sent now about 2099-12-31 or 2001-01-01 was stored (the
    newest sent_at winning, a replayed old day overwrote its accepted counts). A kiosk reports its local
    today or the 6 days before it."""
    server = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "central").start()
    client = _publisher(mosquitto)
    now = datetime.now(timezone.utc)
    today = now.date()
    try:
        def report(day: date, card: int) -> bytes:
            return encode_offers(OffersDay("s1", "k1", day, now, 3, card, 0, (), {"happy": 0}, 0))
        days = {today + timedelta(days=2): 7, today - timedelta(days=30): 8, date(2001, 1, 1): 9,  # refused
                today: 5, today - timedelta(days=6): 4}  # accepted
        for day, card in days.items():
            client.publish("moodkiosk/v1/s1/k1/offers", report(day, card), qos=1).wait_for_publish(10)
        wait_until(lambda: server.collector.stats.snapshot()["received"] == 5
                   and server.collector.stats.snapshot()["batches"] >= 1, 20, "the five reports handled")
        wait_until(lambda: len(store_offer_days(server.store, "s1", date(2000, 1, 1), date(2100, 1, 1))) == 2, 10,
                   "the two plausible days stored")
        stored = {d.day: d.card_sessions for d in store_offer_days(server.store, "s1", date(2000, 1, 1),
                                                                      date(2100, 1, 1))}
        assert stored == {today: 5, today - timedelta(days=6): 4}
        assert server.collector.stats.snapshot()["rejected"] == {"time": 3}
    finally:
        client.loop_stop()
        client.disconnect()
        server.stop()


def _read_stream(base: str, headers: dict[str, str], out: queue.Queue) -> None:
    """(event, data) of /api/events onto `out`; ("end", None) when the server ends the stream."""
    with httpx.Client(base_url=base, timeout=httpx.Timeout(10, read=60)) as client:
        with client.stream("GET", "/api/events", headers=headers) as response:
            out.put(("status", response.status_code))
            name = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name:
                    out.put((name, json.loads(line[6:])))
                    name = None
    out.put(("end", None))


@pytest.mark.parametrize("change", ["removed", "moved to another store", "token revoked"])
def test_a_live_stream_ends_when_its_access_does(change: str, central: CentralServer, mosquitto: MosquittoBroker  # noqa: F811
                                                 ) -> None:
    """Before: /api/events checked the user once, at connect. A manager removed from the users file, moved to
    another store, or whose token was revoked kept receiving store s1's live windows for as long as the
    stream stayed open (keep-alives every 15 s: hours). Now each event is sent only after the credential
    still gives the same access; otherwise the stream ends and the browser's reconnect gets 401 / its new
    stores."""
    other = UserDirectory(central.users.path)  # what `moodkiosk central-user` does in another process
    if change == "token revoked":
        headers = {"Authorization": f"Bearer {other.new_token('s1mgr', 'wall-screen')}"}
    else:
        login = httpx.post(central.http + "/api/login", json={"username": "s1mgr", "password": PASSWORD}, timeout=30)
        headers = {"Cookie": f"mk_session={login.cookies['mk_session']}"}
    events: queue.Queue = queue.Queue()
    threading.Thread(target=_read_stream, args=(central.http, headers, events), daemon=True).start()
    assert events.get(timeout=10) == ("status", 200)
    wait_until(lambda: central.hub.subscribers == 1, 10, "the stream subscribed")
    client = _publisher(mosquitto)
    try:
        client.publish("moodkiosk/v1/s1/k1/mood", mood("s1", "k1", 1, 1).encode(), qos=1).wait_for_publish(10)
        name, data = events.get(timeout=10)
        assert name == "windows" and data[0]["seq"] == 1
        if change == "removed":
            other.remove_user("s1mgr")
        elif change == "moved to another store":
            other.set_user("s1mgr", PASSWORD, ["s2"])
        else:
            other.revoke_token("s1mgr", "wall-screen")
        time.sleep(0.6)  # the users file is looked at every 0.2 s
        client.publish("moodkiosk/v1/s1/k1/mood", mood("s1", "k1", 2, 2).encode(), qos=1).wait_for_publish(10)
        wait_until(lambda: central.store.count_windows() == 2, 10, "the second window stored")
        assert events.get(timeout=20) == ("end", None)
    finally:
        client.loop_stop()
        client.disconnect()


def test_the_day_route_refuses_unknown_stores_and_dates_like_the_period_routes(central: CentralServer) -> None:
    """Before: /api/stores/{store}/day answered 200 for any text as store id (NUL, 5,000 characters, echoed
    back) and any date from 0001-01-01 to 9999-12-31, unlike /period and /heatmap (404 / 422)."""
    central.store.set_status("s1", "k1", True, time.time())
    client = httpx.Client(base_url=central.http, timeout=30)
    assert client.post("/api/login", json={"username": "admin", "password": PASSWORD}).status_code == 200
    assert client.get("/api/stores/s1/day", params={"tz": "UTC"}).status_code == 200
    for store in ("%00", "x" * 5000, "s9"):
        response = client.get(f"/api/stores/{store}/day")
        assert response.status_code == 404 and len(response.text) < 300, (store[:10], response.status_code)
    for day in ("9999-12-31", "0001-01-01", "1999-12-31"):
        assert client.get("/api/stores/s1/day", params={"date": day}).status_code == 422, day


def test_a_backup_never_replaces_the_live_database_or_its_wal(tmp_path: Path) -> None:
    """Before: `central-backup --db sqlite:///c.db c.db` (or c.db-wal, or a link to c.db) printed "backed up"
    and renamed the copy over the file central has open, which is how SQLite says a database gets corrupted."""
    db = tmp_path / "c.db"
    store = open_store(f"sqlite:///{db}")
    try:
        store.store_windows(records("s1", "k1", datetime(2026, 11, 1, tzinfo=timezone.utc), 30))
        (tmp_path / "link.db").symlink_to(db)
        inode = db.stat().st_ino
        for target in ("./c.db", "c.db-wal", "link.db"):
            run = subprocess.run([sys.executable, "-m", "kiosk", "central-backup", "--db", f"sqlite:///{db}", target],
                                 capture_output=True, text=True, timeout=60, cwd=tmp_path)
            assert run.returncode == 2 and "is the live database" in run.stderr, (target, run.stderr[-500:])
            assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
        assert db.stat().st_ino == inode and store.count_windows() == 30
        ok = subprocess.run([sys.executable, "-m", "kiosk", "central-backup", "--db", f"sqlite:///{db}", "copy.db"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert ok.returncode == 0, ok.stderr
    finally:
        store.close()



def test_a_backup_onto_a_pipe_socket_or_folder_is_refused_before_copying(tmp_path: Path) -> None:
    """Before: the copy was renamed over whatever FILE named: a FIFO someone reads the backup from became a
    plain file (and, run as root, `central-backup ... /dev/null` would have replaced the device node)."""
    import socket

    db = tmp_path / "c.db"
    store = open_store(f"sqlite:///{db}")
    try:
        store.store_windows(records("s1", "k1", datetime(2026, 11, 1, tzinfo=timezone.utc), 3))
        os.mkfifo(tmp_path / "pipe")
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(tmp_path / "sock"))
        (tmp_path / "folder").mkdir()
        for target in ("pipe", "sock", "folder"):
            run = subprocess.run([sys.executable, "-m", "kiosk", "central-backup", "--db", f"sqlite:///{db}", target],
                                 capture_output=True, text=True, timeout=60, cwd=tmp_path)
            assert run.returncode == 2 and f"backup file {target}" in run.stderr, (target, run.stderr[-500:])
            assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
        assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe").st_mode) and stat.S_ISSOCK(os.lstat(tmp_path / "sock").st_mode)
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")) == []
        sock.close()
    finally:
        store.close()


def test_an_id_with_a_trailing_line_break_is_no_id(tmp_path: Path) -> None:
    """Before: ids were checked with `^...$`, and Python's `$` also matches before a final line break:
    "s1\n" passed as a store id (`central-user add --store`, `--allow-store`, the stores file) and
    moodkiosk/v1/s1/k1<LF>/status as the topic of a kiosk "k1\n", a look-alike beside k1. (Mosquitto itself
    disconnects a client that puts a control character in a topic; other brokers need not.)"""
    for text in ("k1\n", "k1\r", "k1 ", "\nk1", "k\u200b1", "k\u04301", ""):
        with pytest.raises(contract.ContractError):
            contract.validate_id(text, "kiosk")
    with pytest.raises(contract.ContractError):
        contract.parse_topic("moodkiosk/v1/s1/k1\n/status")
    run = subprocess.run([sys.executable, "-m", "kiosk", "central-user", "--users", str(tmp_path / "u.json"), "add",
                          "bob", "--store", "s1\n", "--password-env", "MK_TEST_PW"], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, env={**os.environ, "MK_TEST_PW": PASSWORD})
    assert run.returncode == 2 and "is not a valid id" in run.stderr, run.stderr[-500:]


def test_a_qos0_flood_of_windows_while_the_database_is_locked_is_bounded(mosquitto: MosquittoBroker,  # noqa: F811
                                                                        tmp_path: Path) -> None:
    """The class behind the health flood: any message published at QoS 0 reaches the collector at QoS 0 (no
    broker flow control), moods included, and waited without bound while the database was locked. Beyond
    `qos0_backlog_max` waiting messages, QoS 0 ones are dropped and counted (`overloaded`); QoS 1 windows are
    still all stored once the database is back."""
    with _central_with_a_locked_database(mosquitto, tmp_path, qos0_backlog_max=2000) as (server, client, lock):
        client.publish("moodkiosk/v1/s1/k1/status", "online", qos=1).wait_for_publish(10)
        wait_until(lambda: server.collector.stats.received >= 1, 10, "the status received")
        flood = 6000
        for seq in range(1, flood + 1):  # 0.6 s windows: all within the plausible time range
            doc = contract.MoodDocument.from_window("s1", "k1", seq, window(seq, 0.01), {"happy": 0}, "test-1")
            client.publish("moodkiosk/v1/s1/k1/mood", doc.encode(), qos=0)
        for seq in range(1, 6):
            client.publish("moodkiosk/v1/s1/k2/mood", mood("s1", "k2", seq, seq).encode(), qos=1)
        wait_until(lambda: server.collector.stats.received >= flood + 6, 60, "the flood received")
        queued, dropped = server.collector.queued, server.collector.stats.snapshot()["rejected"].get("overloaded", 0)
        print(f"\n[flood] {flood} QoS 0 windows while the database was locked: {queued} queued, {dropped} dropped "
              "as overloaded")
        # at most the cap waits (plus the 5 QoS 1 windows); the writer's own blocked batch holds a few more
        assert queued <= 2000 + 5 and dropped >= flood - 2000 - server.collector.settings.batch_max, (queued, dropped)
        lock.execute("ROLLBACK")

        def settled() -> bool:
            stats = server.collector.stats.snapshot()
            return stats["stored"] + stats["rejected"].get("overloaded", 0) == flood + 5
        wait_until(settled, 120, "every window stored or counted as overloaded")
        assert [k.latest.seq for k in server.store.kiosks(["s1"]) if k.kiosk == "k2"] == [5]  # QoS 1: all kept


def integrity(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_a_database_file_replaced_under_central_loses_nothing_acknowledged(mosquitto: MosquittoBroker,  # noqa: F811
                                                                          tmp_path: Path) -> None:
    """Before: a backup restored with `mv restore.db c.db` while central ran left central writing into the
    replaced (now nameless) file: the windows it acknowledged from then on were gone after its restart. Now
    a write first checks that the path still names the opened file; until a restart the batch stays
    unacknowledged, and the broker hands it to the restarted central, which stores it in the file now there."""
    db = tmp_path / "c.db"
    server = CentralServer(mosquitto.url, f"sqlite:///{db}", tmp_path / "central")
    client = _publisher(mosquitto)
    try:
        server.start()
        publish = lambda seq: client.publish("moodkiosk/v1/s1/k1/mood", mood("s1", "k1", seq, seq).encode(),  # noqa: E731
                                             qos=1).wait_for_publish(10)
        publish(1)
        wait_until(lambda: server.store.count_windows() == 1, 20, "window 1 stored")
        backup_sqlite(f"sqlite:///{db}", tmp_path / "restore.db")  # the operator's backup, restored below
        publish(2)
        wait_until(lambda: server.store.count_windows() == 2, 20, "window 2 stored")
        os.replace(tmp_path / "restore.db", db)  # window 2 is lost by this restore: it is not in the backup
        publish(3)
        wait_until(lambda: server.collector.stats.snapshot()["db_errors"] >= 2, 20, "the writer refusing to store")
        assert server.collector.stats.snapshot()["stored"] == 2
        with contextlib.suppress(sqlite3.Error):  # what SQLite does by itself as pages pile up in the log
            server.store._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        server.stop()
    again = CentralServer(mosquitto.url, f"sqlite:///{db}", tmp_path / "central")
    try:
        again.start()  # the same group and client id: the broker redelivers what was not acknowledged
        seqs = lambda: [r[0] for r in again.store._fetch(again.store._conn(), "SELECT seq FROM windows ORDER BY seq")]  # noqa: E731
        wait_until(lambda: 3 in seqs(), 20, "window 3 stored in the restored file")
        assert seqs() == [1, 3] and integrity(db) == "ok"
    finally:
        client.loop_stop()
        client.disconnect()
        again.stop()


def test_an_http_address_central_cannot_listen_on_is_one_line_before_anything_starts(
        mosquitto: MosquittoBroker, tmp_path: Path) -> None:  # noqa: F811
    """Before: the dashboard's socket was bound by uvicorn after the collector had joined the broker's group;
    a port in use or an address of another machine ended central with uvicorn's `ERROR: [Errno 98] ...`
    and exit code 3."""
    users = tmp_path / "users.json"
    UserDirectory(users).set_user("it", PASSWORD, ["*"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        for address, problem in ((busy, "cannot listen"), ("192.0.2.7:8080", "cannot listen"),
                                 ("no-such-host.invalid:8080", "is not an address of this machine")):
            run = subprocess.run([sys.executable, "-m", "kiosk", "central", "--users", str(users), "--mqtt",
                                  mosquitto.url, "--db", f"sqlite:///{tmp_path / 'c.db'}", "--http", address],
                                 capture_output=True, text=True, timeout=60, cwd=tmp_path)
            line = _one_line_exit_2(run)
            assert line.startswith("moodkiosk central: error: --http ") and problem in line, line
