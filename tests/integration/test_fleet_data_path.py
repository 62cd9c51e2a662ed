"""The fleet data path under attack and restarts, on a real Mosquitto and `moodkiosk central` processes
(default number of collector processes, SQLite file): hostile messages of many kinds store nothing and stop
nothing; valid windows published before, during and after three restarts are all stored exactly once.
Run with -s to see the figures."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import contract
from central.auth import UserDirectory
from helpers.central import wait_until
from helpers.mosquitto import MosquittoBroker, free_port, mosquitto  # noqa: F401  (fixture)
from helpers.windows import T0, mood, mood_document

pytestmark = pytest.mark.timeout(240)

REPO = Path(__file__).resolve().parents[2]
KIOSKS = [("s1", f"k{i}") for i in range(1, 5)] + [("s2", "k1")]


def _doc_bytes(doc: dict) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


def _raw(doc: dict, old: str, new: str) -> bytes:
    data = json.dumps(doc)
    assert old in data
    return data.replace(old, new, 1).encode()


def hostile_messages() -> list[tuple[str, bytes]]:
    """(topic, payload) of messages that must never be stored, one or more per class of problem."""
    g = mood_document("s1", "k1", 900, 900)  # shaped like k1's windows, but each is broken in one way
    mood_topic, health_topic = "moodkiosk/v1/s1/k1/mood", "moodkiosk/v1/s1/k1/health"
    health = {"schema_version": "health.v1", "store": "s1", "kiosk": "k1", "sent_at": g["window_start"],
              "uptime_s": 5, "spool_depth": 0, "spool_dropped": 0}
    mi = f'"mood_index": {json.dumps(g["mood_index"])}'
    kinds = [
        dict(g, window_start="2026-02-30T10:00:00.000Z"), dict(g, window_start="2026-05-04T24:00:00Z"),
        dict(g, window_start="2026-13-01T10:00:00Z"), dict(g, window_start="0000-01-01T10:00:00Z"),
        dict(g, window_start="9999-12-31T23:58:00Z", window_end="9999-12-31T23:59:00Z"),
        dict(g, window_start="2001-01-01T10:00:00Z", window_end="2001-01-01T10:01:00Z"),
        dict(g, window_end=g["window_start"]), dict(g, seq=3.0), dict(g, people=True),
        dict(g, counts={"happy": 90}), dict(g, mood_index=2), dict(g, schema_version="mood.v9"),
        dict(g, store="s2"), dict(g, extra="x"), dict(g, model_version="a\u0000b"),
        dict(g, window_end="2099-01-01T00:00:00Z"),
    ]
    out = [(mood_topic, _doc_bytes(doc)) for doc in kinds]
    out += [
        (mood_topic, _raw(g, mi, '"mood_index": NaN')), (mood_topic, _raw(g, mi, '"mood_index": Infinity')),
        (mood_topic, _raw(g, mi, '"mood_index": 1e400')), (mood_topic, _raw(g, '"seq": 900', '"seq": 900, "seq": 1')),
        (mood_topic, _raw(g, '"model_version": "test-1"', '"model_version": "\\ud800"')),
        (mood_topic, b"[" * 2040 + b"]" * 2040), (mood_topic, b"\xff\xfe\x00"), (mood_topic, b""),
        (mood_topic, b"{" + b" " * 5000 + b"}"), (mood_topic, b"null"),
        (health_topic, _raw(health, '"uptime_s": 5', '"uptime_s": NaN')),
        (health_topic, _doc_bytes(dict(health, sent_at="2026-02-30T10:00:00Z"))),
        ("moodkiosk/v1/s1/k1/status", b"maybe"), ("moodkiosk/v1/s1/k1/status", b"\xff"),
    ]
    return out


def replay_messages() -> list[tuple[str, bytes]]:
    """Well-formed windows that contradict what k1 already has stored (sent after windows 1..40 are in)."""
    stored = mood("s1", "k1", 5, 5).as_json()
    return [
        ("moodkiosk/v1/s1/k1/mood", _doc_bytes(dict(stored, people=stored["people"] + 1))),  # same start, other data
        ("moodkiosk/v1/s1/k1/mood", _doc_bytes(dict(mood("s1", "k1", 5, 700).as_json()))),  # reused seq, later time
        ("moodkiosk/v1/s1/k1/mood", _doc_bytes(dict(mood("s1", "k1", 2, 701).as_json()))),  # older seq, later time
        ("moodkiosk/v1/s1/k1/mood", _doc_bytes(dict(mood("s1", "k1", 5000, 10).as_json(),
                                                    window_start=(T0 + timedelta(minutes=10, seconds=30))
                                                    .isoformat().replace("+00:00", "Z"),
                                                    window_end=(T0 + timedelta(minutes=11, seconds=30))
                                                    .isoformat().replace("+00:00", "Z")))),  # overlaps 10 and 11
    ]


class Central:
    """`moodkiosk central` as its own process, as a supervisor runs it."""

    def __init__(self, broker: MosquittoBroker, workdir: Path) -> None:
        self.broker = broker
        self.db = workdir / "central.db"
        self.users = workdir / "users.json"
        directory = UserDirectory(self.users)
        directory.set_user("admin", "correct-horse-1", ["*"])
        self.token = directory.new_token("admin")
        self.port = free_port()
        self.log = workdir / "central.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        began = time.monotonic()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kiosk.cli", "central", "--mqtt", self.broker.url, "--db", f"sqlite:///{self.db}",
                 "--http", f"127.0.0.1:{self.port}", "--users", str(self.users)],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
        wait_until(lambda: self._connected(), 60, "moodkiosk central up and connected", interval=0.2)
        return time.monotonic() - began

    def stats(self) -> dict:
        response = httpx.get(f"http://127.0.0.1:{self.port}/api/stats", headers={"Authorization": f"Bearer {self.token}"},
                             timeout=5)
        response.raise_for_status()
        return response.json()

    def _connected(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"central exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
        try:
            stats = self.stats()
        except httpx.HTTPError:
            return False
        collector = stats.get("collector", stats)
        return bool(collector.get("connected")) and collector.get("collectors", 1) >= 1

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(30)
        self.proc = None
        return code


def _client(broker: MosquittoBroker) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fleet-publisher", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def _send(client: mqtt.Client, messages: list[tuple[str, bytes]]) -> None:
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(10)


def _rows(db: Path) -> dict[tuple[str, str, int], tuple[float, int]]:
    with sqlite3.connect(db) as conn:
        return {(s, k, q): (start, people) for s, k, q, start, people in
                conn.execute("SELECT store_id, kiosk_id, seq, window_start, people FROM windows")}


@pytest.mark.slow
def test_hostile_messages_and_three_restarts_lose_nothing_and_store_nothing_bad(mosquitto: MosquittoBroker,
                                                                                tmp_path: Path) -> None:
    central = Central(mosquitto, tmp_path)
    client = _client(mosquitto)
    expected: dict[tuple[str, str, int], tuple[float, int]] = {}
    next_i = {kiosk: 1 for kiosk in KIOSKS}

    def valid(count: int) -> list[tuple[str, bytes]]:
        out = []
        for _ in range(count):
            for store, kiosk in KIOSKS:
                i = next_i[(store, kiosk)]
                next_i[(store, kiosk)] += 1
                doc = mood(store, kiosk, i, i)
                expected[(store, kiosk, i)] = (doc.window_start.timestamp(), doc.people)
                out.append((contract.topic_for(store, kiosk, "mood"), doc.encode()))
        return out

    starts, codes, rejected = [central.start()], [], {}

    def count_rejects() -> None:  # the counters are per process: add them up before each stop
        for reason, n in central.stats()["rejected"].items():
            rejected[reason] = rejected.get(reason, 0) + n
    try:
        hostile = hostile_messages()
        _send(client, hostile)
        _send(client, valid(40))  # 200 windows
        wait_until(lambda: len(_rows(central.db)) == len(expected), 60, "the first 200 windows stored")
        hostile += replay_messages()
        _send(client, replay_messages())
        wait_until(lambda: central.stats()["rejected_total"] >= len(hostile) - 1, 20, "every hostile message counted")
        for restart in range(3):
            _send(client, valid(10))  # while it runs
            count_rejects()
            codes.append(central.stop())
            _send(client, valid(10))  # while it is down: the broker keeps them in the collectors' sessions
            starts.append(central.start())
            _send(client, valid(10))  # right after it is back
        wait_until(lambda: len(_rows(central.db)) >= len(expected), 60, "every valid window stored")
        time.sleep(1.0)  # anything late (a redelivery stored twice, a hostile one) would show now
        rows = _rows(central.db)
        stats = central.stats()
        alive = central.proc is not None and central.proc.poll() is None and stats["alive"] and stats["connected"]
        count_rejects()
    finally:
        client.loop_stop()
        client.disconnect()
        if central.proc is not None:
            codes.append(central.stop())
    stored_once = sum(1 for key, value in expected.items() if rows.get(key) == value)
    hostile_stored = len(set(rows) - set(expected)) + sum(1 for key in expected if key in rows and rows[key] !=
                                                           expected[key])
    print(f"\n[fleet] valid windows stored once / sent: {stored_once} / {len(expected)}; hostile messages: "
          f"{len(hostile)} sent, {hostile_stored} stored; collector alive: {alive}; rejected by reason: "
          f"{dict(sorted(rejected.items()))}; starts of moodkiosk central: {', '.join(f'{s:.1f}' for s in starts)} s; "
          f"exit codes {codes}")
    assert stored_once == len(expected) and len(rows) == len(expected)
    assert hostile_stored == 0 and alive and codes == [0, 0, 0, 0]
    assert sum(rejected.values()) == len(hostile)
    assert {"time", "malformed_json", "schema", "replay", "overlap", "oversized", "topic_mismatch"} <= set(rejected)


def test_a_row_the_database_refuses_is_isolated_as_a_dead_letter(mosquitto: MosquittoBroker,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    """A real SQLite trigger refuses one window (as a NOT NULL column refused NaN before): the batch is split,
    that row is kept as a dead letter and acknowledged, every other window is stored, ingest goes on."""
    from helpers.central import CentralServer

    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "central")
    with sqlite3.connect(tmp_path / "c.db") as conn:
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON windows WHEN NEW.model_version = 'poison' "
                     "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END")
    central.start()
    client = _client(mosquitto)
    try:
        docs = [mood("s1", "k1", i, i) for i in range(1, 31)]
        poison = contract.MoodDocument(**{**mood("s1", "k2", 1, 1).__dict__, "model_version": "poison"})
        _send(client, [(contract.topic_for("s1", "k1", "mood"), d.encode()) for d in docs[:15]]
              + [(contract.topic_for("s1", "k2", "mood"), poison.encode())]
              + [(contract.topic_for("s1", "k1", "mood"), d.encode()) for d in docs[15:]])
        wait_until(lambda: central.store.count_windows() == 30, 20, "the 30 good windows stored")
        wait_until(lambda: central.collector.stats.snapshot()["dead_letters"] == 1, 10, "one dead letter")
        letters = central.store.dead_letters()
        assert [(d.reason, d.topic) for d in letters] == [("store_failed", "moodkiosk/v1/s1/k2/mood")]
        assert "refused by the test trigger" in letters[0].detail
        stats = central.collector.stats.snapshot()
        assert stats["rejected"].get("store_failed") == 1 and stats["alive"] and stats["db_errors"] == 0
        # the MQTT loop stopping for any reason is reported (moodkiosk central then exits non-zero)
        central.collector._client.loop_stop()
        assert central.collector.failure() == "the MQTT network loop stopped"
        assert central.collector.stats.snapshot()["alive"] is False
    finally:
        client.loop_stop()
        client.disconnect()
        central.stop()


def test_sessions_of_workers_no_longer_started_are_drained_and_ended(mosquitto: MosquittoBroker,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    """Two collector processes, then one: the second worker's session (a member of the shared group, holding
    its share of what came while central was down) is drained at start and ended."""
    from central.collector import CollectorSettings
    from central.collector_group import CollectorGroup
    from central.store import open_store

    db_url = f"sqlite:///{tmp_path / 'c.db'}"
    store = open_store(db_url)
    settings = CollectorSettings(contract.parse_broker_url(mosquitto.url), group="shrink", name="shrink")
    group = CollectorGroup(settings, db_url, store, processes=2)
    group.start()
    group.stop()
    client = _client(mosquitto)
    try:
        _send(client, [(contract.topic_for("s1", "k1", "mood"), mood("s1", "k1", i, i).encode()) for i in range(1, 41)])
    finally:
        client.loop_stop()
        client.disconnect()
    smaller = CollectorGroup(settings, db_url, store, processes=1)
    smaller.start()
    try:
        wait_until(lambda: store.count_windows() == 40, 30, "all 40 windows, including the old worker's share")
    finally:
        smaller.stop()
        store.close()
