"""The collector against a real broker and real databases (SQLite file, PostgreSQL server): rejects, duplicates."""
from __future__ import annotations

import json
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import contract
from central.errors import CentralError
from central.store import StoreError, open_store
from helpers.central import CentralServer, wait_until
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)
from helpers.postgres import postgres_server  # noqa: F401  (fixture)
from helpers.windows import mood_document

pytestmark = pytest.mark.timeout(90)


def _raw_client(broker: MosquittoBroker) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="raw-publisher", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def _publish(client: mqtt.Client, topic: str, payload: bytes | str, retain: bool = False) -> None:
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.db'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"t_{abs(hash(str(tmp_path))) % 10**9}")


def test_rejects_are_counted_and_nothing_accepted_is_lost(mosquitto: MosquittoBroker, tmp_path: Path,
                                                          db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="central.collector")
    central = CentralServer(mosquitto.url, db_url, tmp_path, allowed_stores=frozenset({"s1", "s2"})).start()
    client = _raw_client(mosquitto)
    try:
        good = [mood_document("s1", "k1", seq, seq) for seq in range(1, 7)]
        bad = [
            ("moodkiosk/v1/s1/k1/mood", b"{not json", "malformed_json"),
            ("moodkiosk/v1/s1/k1/mood", json.dumps(dict(good[0], schema_version="mood.v9")), "schema_version"),
            ("moodkiosk/v1/s1/k1/mood", b"{" + b" " * 5000 + b"}", "oversized"),
            ("moodkiosk/v1/s2/k1/mood", json.dumps(good[1]), "topic_mismatch"),  # s1's window on s2's topic
            ("moodkiosk/v1/s9/k1/mood", json.dumps(dict(good[2], store="s9")), "unknown_store"),
            ("moodkiosk/v1/s1/k1/mood", json.dumps(dict(good[3], mood_index=7)), "schema"),
            ("moodkiosk/v1/s1/k1/status", "maybe", "schema"),
            ("moodkiosk/v1/s1/k1/health", b"[]", "schema"),
        ]
        for i, doc in enumerate(good):
            _publish(client, "moodkiosk/v1/s1/k1/mood", json.dumps(doc))
            if i < len(bad):
                topic, payload, _ = bad[i]
                _publish(client, topic, payload)
        for topic, payload, _ in bad[len(good):]:
            _publish(client, topic, payload)
        _publish(client, "moodkiosk/v1/s1/k1/mood", json.dumps(good[2]))  # a redelivery of an accepted window
        expected = {}
        for _, _, reason in bad:
            expected[reason] = expected.get(reason, 0) + 1
        wait_until(lambda: central.collector.stats.snapshot()["rejected"] == expected, 15, f"rejects {expected}")
        logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected message on ")]
        for topic, _, reason in bad:  # the first reject of each reason is logged, naming the topic and the reason
            assert any(line.startswith("rejected message on ") and f" ({reason}): " in line for line in logged), \
                (reason, logged)
        assert len(logged) == len({reason for _, _, reason in bad})  # rate-limited: one line per reason
        wait_until(lambda: central.store.count_windows() == len(good), 15, "all good windows stored")
        # Still alive after all that: a later window is stored too.
        late = mood_document("s1", "k1", 7, 7)
        _publish(client, "moodkiosk/v1/s1/k1/mood", json.dumps(late))
        wait_until(lambda: central.store.count_windows() == len(good) + 1, 15, "a window after the rejects")
        stats = central.collector.stats.snapshot()
        print(f"\n[rejects {db_url.split(':')[0]}] {stats}")
        assert stats["duplicates"] == 1 and stats["stored"] == len(good) + 1
        latest = central.store.kiosks(["s1"])[0].latest
        assert latest is not None and latest.seq == 7 and latest.people == late["people"]
    finally:
        client.loop_stop()
        client.disconnect()
        central.stop()


def test_status_is_kept_from_retained_messages(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    client = _raw_client(mosquitto)
    # Retained before the collector starts: it must still learn them (plain subscription for status).
    _publish(client, "moodkiosk/v1/s1/k1/status", "online", retain=True)
    _publish(client, "moodkiosk/v1/s1/k2/status", "offline", retain=True)
    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'c.db'}", tmp_path).start()
    try:
        wait_until(lambda: len(central.store.kiosks()) == 2, 10, "two kiosks known from retained status")
        assert {k.kiosk: k.online for k in central.store.kiosks()} == {"k1": True, "k2": False}
        _publish(client, "moodkiosk/v1/s1/k1/status", "offline", retain=True)
        wait_until(lambda: central.store.kiosks(["s1"])[0].online is False, 10, "k1 offline")
    finally:
        client.loop_stop()
        client.disconnect()
        central.stop()


def test_store_urls_and_migrations(tmp_path: Path, postgres_server) -> None:  # noqa: F811
    path = tmp_path / "m.db"
    assert open_store(f"sqlite:///{path}").migrate() == 6
    assert open_store(str(path)).migrate() == 6  # a plain path is SQLite; re-opening migrates nothing twice
    with pytest.raises(StoreError, match="scheme 'mysql'"):
        open_store("mysql://x/y")
    with pytest.raises(StoreError, match="cannot connect"):
        open_store(f"postgresql://postgres:secret@127.0.0.1:{postgres_server.port}/no_such_db")
    url = postgres_server.create_database("migrations")
    assert open_store(url).migrate() == 6 and open_store(url).migrate() == 6
    assert issubclass(StoreError, CentralError)


def test_collector_start_fails_clearly_without_broker(tmp_path: Path) -> None:
    from central.collector import Collector, CollectorSettings
    from helpers.mosquitto import free_port

    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    with pytest.raises(CentralError, match="unreachable"):
        Collector(CollectorSettings(contract.parse_broker_url(f"mqtt://127.0.0.1:{free_port()}")), store).start()


def test_collector_says_when_the_broker_refuses_its_login(tmp_path: Path) -> None:
    from central.collector import Collector, CollectorSettings

    broker = MosquittoBroker(tmp_path / "mosq", users={"collector": "right"}).start()
    try:
        store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
        settings = CollectorSettings(contract.parse_broker_url(broker.url), username="collector", password="wrong")
        with pytest.raises(CentralError, match="refused it: .*(password|authori)"):
            Collector(settings, store).start(connect_timeout=5)
    finally:
        broker.stop()


def test_windows_published_while_the_collector_restarts_are_not_lost(mosquitto: MosquittoBroker,
                                                                    tmp_path: Path) -> None:
    """The collector's persistent session keeps its shared subscription: the broker queues windows meanwhile."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    first = CentralServer(mosquitto.url, db, tmp_path / "a").start()
    first.stop()
    client = _raw_client(mosquitto)
    try:
        for seq in range(1, 21):
            _publish(client, "moodkiosk/v1/s1/k1/mood", json.dumps(mood_document("s1", "k1", seq, seq)))
        second = CentralServer(mosquitto.url, db, tmp_path / "b").start()  # same group, same client id
        try:
            wait_until(lambda: second.store.count_windows() == 20, 15, "the 20 windows queued at the broker")
        finally:
            second.stop()
    finally:
        client.loop_stop()
        client.disconnect()


def test_collector_survives_a_postgresql_restart(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """Database gone for a while: batches stay unacknowledged and are retried; nothing lost, no crash."""
    from helpers.postgres import PostgresServer

    pg = PostgresServer().start()
    central = None
    client = _raw_client(mosquitto)
    try:
        central = CentralServer(mosquitto.url, pg.create_database("restart"), tmp_path).start()
        for seq in range(1, 6):
            _publish(client, "moodkiosk/v1/s1/k1/mood", json.dumps(mood_document("s1", "k1", seq, seq)))
        wait_until(lambda: central.store.count_windows() == 5, 15, "5 windows before the restart")
        pg.stop_server()
        for seq in range(6, 11):
            _publish(client, "moodkiosk/v1/s1/k1/mood", json.dumps(mood_document("s1", "k1", seq, seq)))
        wait_until(lambda: central.collector.stats.snapshot()["db_errors"] >= 1, 15, "a failed insert")
        pg.start()
        wait_until(lambda: central.store.count_windows() == 10, 30, "all 10 windows after the database is back")
        print(f"\n[postgresql restart] {central.collector.stats.snapshot()}")
    finally:
        client.loop_stop()
        client.disconnect()
        if central is not None:
            central.stop()
        pg.stop()
