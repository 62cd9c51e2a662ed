"""Kiosk telemetry through a real Mosquitto into the real collector: order, exactly-once, broker and kiosk crashes."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from helpers.central import CentralServer, wait_until
from helpers.mosquitto import MosquittoBroker, free_port, mosquitto  # noqa: F401  (fixture)
from helpers.windows import window
from kiosk.config import MqttConfig
from kiosk.services.spool import Spool
from kiosk.services.telemetry import TelemetryError, TelemetryPublisher

KIOSK_PROC = Path(__file__).resolve().parent.parent / "helpers" / "kiosk_proc.py"
pytestmark = pytest.mark.timeout(90)


def _stored(central: CentralServer, store: str = "s1", kiosk: str = "k1") -> list[tuple[int, float]]:
    conn = central.store._conn()
    rows = conn.execute(
        "SELECT seq, window_start FROM windows WHERE store_id = ? AND kiosk_id = ? ORDER BY id", (store, kiosk)
    ).fetchall()
    return [(int(seq), float(start)) for seq, start in rows]


def _report(name: str, first_seq: int, expected: int, stored: list[tuple[int, float]], redelivered: int) -> None:
    """Every seq first_seq .. first_seq + expected - 1 stored exactly once (a fresh spool starts at the clock)."""
    seqs = [s for s, _ in stored]
    wanted = set(range(first_seq, first_seq + expected))
    lost = len(wanted - set(seqs))
    duplicated = len(seqs) - len(set(seqs))
    missing = sorted(wanted - set(seqs))[:20]
    print(f"\n[{name}] windows expected={expected} stored={len(seqs)} lost={lost} duplicated={duplicated} "
          f"redeliveries absorbed by the collector={redelivered}" + (f" missing seqs={missing}" if missing else ""))
    assert lost == 0 and duplicated == 0 and len(seqs) == expected


def test_windows_arrive_in_order_once_with_status_and_health(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path).start()
    states = []
    spool = Spool(tmp_path / "spool.sqlite", 1000)
    first = spool.last_seq() + 1
    assert first > 1_700_000_000_000  # a fresh spool starts at the clock in ms, never at 1 (see test_spool_faults)
    publisher = TelemetryPublisher(MqttConfig(url=mosquitto.url, health_interval_s=1.0), "s1", "k1",
                                   spool, on_state=states.append)
    try:
        publisher.start()
        publisher.report_health({"fps": 12.5, "inference_ms": 8.1, "model_version": "test-1", "camera": "up"})
        for i in range(30):
            assert publisher.submit_window(window(i), {"happy": 1}, "test-1")
        wait_until(lambda: len(_stored(central)) == 30, 20, "30 windows stored")
        wait_until(lambda: (central.store.kiosks(["s1"]) or [None])[0] is not None
                   and central.store.kiosks(["s1"])[0].health is not None, 10, "health stored")
        kiosk = central.store.kiosks(["s1"])[0]
        assert kiosk.online is True and kiosk.health["fps"] == 12.5 and kiosk.health["spool_dropped"] == 0
        assert kiosk.latest is not None and kiosk.latest.seq == first + 29
        stored = _stored(central)
        assert [s for s, _ in stored] == list(range(first, first + 30))  # arrival order == seq order
        assert [t for _, t in stored] == sorted(t for _, t in stored)
        assert any(s.connection == "connected" for s in states)
        wait_until(lambda: publisher.state.spool_depth == 0, 15, "spool emptied by PUBACKs")
        publisher.stop()
        wait_until(lambda: central.store.kiosks(["s1"])[0].online is False, 10, "offline status after stop")
        _report("in order", first, 30, _stored(central), central.collector.stats.duplicates)
    finally:
        publisher.stop()
        central.stop()


def test_broker_killed_and_restarted_while_publishing(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path).start()
    spool = Spool(tmp_path / "spool.sqlite", 1000)
    first = spool.last_seq() + 1
    publisher = TelemetryPublisher(MqttConfig(url=mosquitto.url, health_interval_s=3600, reconnect_max_s=1),
                                   "s1", "k1", spool)
    total = 120
    try:
        publisher.start()

        def produce() -> None:
            for i in range(total):
                publisher.submit_window(window(i), {"neutral": 1}, "test-1")
                time.sleep(0.01)

        producer = threading.Thread(target=produce)
        producer.start()
        wait_until(lambda: len(_stored(central)) >= 20, 20, "first windows before the crash")
        mosquitto.kill()  # kill -9 while the kiosk is publishing
        wait_until(lambda: publisher.state.connection == "disconnected", 10, "publisher noticing the broker is gone")
        time.sleep(0.5)  # windows closed while the broker is down go to the spool
        depth_while_down = publisher.state.spool_depth
        mosquitto.start()  # same port; no persistence: the collector's session is gone and re-created
        producer.join()
        wait_until(lambda: len(_stored(central)) >= total, 45, f"all {total} windows after the broker restart")
        wait_until(lambda: publisher.drained, 10, "kiosk spool drained")
        print(f"\n[broker crash] spool depth while the broker was down: {depth_while_down}")
        assert depth_while_down > 0
        stored = _stored(central)
        _report("broker crash", first, total, stored, central.collector.stats.duplicates)
        assert sorted(stored, key=lambda r: r[0]) == sorted(stored, key=lambda r: r[1])  # seq order == time order
    finally:
        publisher.stop()
        central.stop()


def _first_seq(spool_path: Path) -> int:
    """The seq of the helper kiosk's window 0, which it keeps beside the spool (tests/helpers/kiosk_proc.py)."""
    return int(Path(f"{spool_path}.first-seq").read_text())


def _spooled(spool_path: Path) -> int:
    """How many windows the kiosk has durably spooled so far, read from its file. (A read-only connection
    can miss the last transactions of a killed writer: it may not rebuild the WAL index.)"""
    try:
        conn = sqlite3.connect(spool_path, timeout=5)
        try:
            next_seq = int(conn.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0])
            return next_seq - _first_seq(spool_path)
        finally:
            conn.close()
    except (sqlite3.OperationalError, TypeError, FileNotFoundError):
        return 0


def _kiosk(spool: Path, url: str, count: int, interval: float, exit_when_sent: bool = False):
    """A kiosk process continuing after the last window in its spool (window i gets seq first_seq + i)."""
    cmd = [sys.executable, str(KIOSK_PROC), "--spool", str(spool), "--url", url,
           "--count", str(count), "--interval", str(interval)]
    return subprocess.Popen(cmd + (["--exit-when-sent"] if exit_when_sent else []), stdout=subprocess.PIPE, text=True)


def test_kiosk_killed_and_restarted_with_full_spool(tmp_path: Path) -> None:
    spool = tmp_path / "kiosk-spool.sqlite"
    broker = MosquittoBroker(tmp_path / "mosq")
    procs: list[subprocess.Popen[str]] = []
    central = None
    try:
        # 1. Broker down: the kiosk spools; kill -9 it in the middle of writing windows.
        procs.append(_kiosk(spool, broker.url, 60, 0.01))
        wait_until(lambda: _spooled(spool) >= 25, 30, "25 windows spooled with the broker down")
        procs[-1].kill()
        procs[-1].wait(5)
        after_first = _spooled(spool)
        # 2. Broker and collector up; a restarted kiosk sends the full spool and more; kill -9 it mid-send.
        broker.start()
        central = CentralServer(broker.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path).start()
        procs.append(_kiosk(spool, broker.url, 60, 0.01))
        wait_until(lambda: len(_stored(central)) >= after_first + 10, 30, "the spool backlog arriving")
        procs[-1].kill()
        procs[-1].wait(5)
        # 3. Restarted again: it resends what was not acknowledged and finishes cleanly.
        procs.append(_kiosk(spool, broker.url, 10, 0.0, exit_when_sent=True))
        assert procs[-1].wait(40) == 0
        expected = _spooled(spool)
        try:
            wait_until(lambda: len(_stored(central)) >= expected, 20, f"all {expected} windows stored")
        except AssertionError:
            pass  # _report below names what is missing
        print(f"\n[kiosk kill -9] spooled before the first kill: {after_first}, in total: {expected}")
        stored = _stored(central)
        print(f"[kiosk kill -9] collector: {central.collector.stats.snapshot()}")
        _report("kiosk kill -9", _first_seq(spool), expected, stored, central.collector.stats.duplicates)
        t0 = window(0).start.timestamp()
        first = _first_seq(spool)
        assert all(int((start - t0) // 60) == seq - first for seq, start in stored)  # window i: seq first + i
        assert Spool(spool, 10_000).depth() == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        if central is not None:
            central.stop()
        broker.stop()


def test_bounded_spool_drops_oldest_and_says_so_in_health(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite", 5)
    first = spool.last_seq() + 1
    dead_port = free_port()
    publisher = TelemetryPublisher(MqttConfig(url=f"mqtt://127.0.0.1:{dead_port}", health_interval_s=1.0),
                                   "s1", "k1", spool)
    publisher.start()
    try:
        for i in range(8):
            publisher.submit_window(window(i), {}, "test-1")
        wait_until(lambda: publisher.state.spool_dropped == 3, 10, "3 windows dropped from a 5-window spool")
        assert publisher.state.spool_depth == 5
    finally:
        publisher.stop()
    kept = [item.seq for item in Spool(tmp_path / "spool.sqlite", 5).peek()]
    assert kept == [first + i for i in range(3, 8)]  # the newest


def test_bad_credentials_stop_retrying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broker = MosquittoBroker(tmp_path / "mosq", users={"kiosk": "right-password"}).start()
    monkeypatch.setenv("MK_TEST_MQTT_PW", "wrong-password")
    states = []
    publisher = TelemetryPublisher(
        MqttConfig(url=broker.url, username="kiosk", password_env="MK_TEST_MQTT_PW", protocol="3.1.1"),
        "s1", "k1", Spool(tmp_path / "spool.sqlite", 100), on_state=states.append,
    )
    try:
        publisher.start()
        publisher.submit_window(window(0), {}, "test-1")
        wait_until(lambda: publisher.state.connection == "auth_failed", 10, "auth_failed state")
        assert "credentials" in publisher.state.message
        time.sleep(2.5)  # paho's back-off would have retried by now
        assert [s.connection for s in states].count("auth_failed") == 1
        assert publisher.state.connection == "auth_failed" and publisher.state.spool_depth == 1  # kept, not lost
    finally:
        publisher.stop()
        broker.stop()


def test_settings_errors_name_the_key(tmp_path: Path) -> None:
    """A bad URL or protocol never reaches the publisher (the [mqtt] section refuses it); what only the
    publisher can see (ids, the password variable, the CA file) is a TelemetryError naming the key."""
    from kiosk.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="mqtt.url: must start with mqtt:// or mqtts://"):
        parse_config({"mqtt": {"url": "http://broker"}})
    with pytest.raises(ConfigError, match="mqtt.protocol"):
        parse_config({"mqtt": {"protocol": "4"}})
    spool = Spool(tmp_path / "spool.sqlite", 10)
    with pytest.raises(TelemetryError, match="mqtt.ca_file"):
        TelemetryPublisher(MqttConfig(ca_file=tmp_path / "missing.pem"), "s1", "k1", spool)
    with pytest.raises(TelemetryError, match="store_id"):
        TelemetryPublisher(MqttConfig(), "s/1", "k1", spool)
    with pytest.raises(TelemetryError, match="NOPE_NOT_SET"):
        TelemetryPublisher(MqttConfig(username="u", password_env="NOPE_NOT_SET"), "s1", "k1", spool)
    publisher = TelemetryPublisher(MqttConfig(), "s1", "k1", spool)
    assert publisher.submit_window(replace(window(0), mood_index=3.0), {}, "m") is False  # logged, not raised
    assert publisher.submit_window(window(0), {"thumbs_up": 1}, "m") is False


def test_publisher_takes_the_kiosk_config_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real [mqtt] section of kiosk.config (password from its env var) drives a login at a real broker."""
    from kiosk.config import KioskConfig

    broker = MosquittoBroker(tmp_path / "mosq", users={"kiosk-7": "s3cret-pass"}).start()
    monkeypatch.setenv("MK_TEST_KIOSK_PW", "s3cret-pass")
    config = KioskConfig.model_validate({
        "store_id": "s1", "kiosk_id": "k7", "data_dir": str(tmp_path),
        "mqtt": {"enabled": True, "url": broker.url, "username": "kiosk-7", "password_env": "MK_TEST_KIOSK_PW",
                 "protocol": "3.1.1", "health_interval_s": 5},
    })
    publisher = TelemetryPublisher(config.mqtt, config.store_id, config.kiosk_id,
                                   Spool(config.spool_path, config.mqtt.spool_max_windows))
    try:
        publisher.start()
        publisher.submit_window(window(0), {"happy": 1}, "test-1")
        wait_until(lambda: publisher.drained and publisher.state.connection == "connected", 10,
                   "window acknowledged after login")
    finally:
        publisher.stop()
        broker.stop()


_KILLED_AFTER_SUBMIT = """
import os, signal, sys, threading
sys.path.insert(0, sys.argv[3])
from helpers.windows import window
from kiosk.config import MqttConfig
from kiosk.services.spool import Spool
from kiosk.services.telemetry import TelemetryPublisher
publisher = TelemetryPublisher(MqttConfig(url=sys.argv[2], health_interval_s=3600), "s1", "k1", Spool(sys.argv[1], 100))
publisher.start()
accepted = []
def vision_worker():  # like kiosk.app.on_window: called on the camera pipeline's worker thread
    for i in range(8):
        accepted.append(publisher.submit_window(window(i), {"happy": 1}, "test-1"))
thread = threading.Thread(target=vision_worker, name="vision-worker")
thread.start()
thread.join()
assert accepted == [True] * 8, accepted
os.kill(os.getpid(), signal.SIGKILL)  # power cut the moment the last window was handed over
"""


def test_window_submitted_from_the_vision_thread_survives_a_kill_right_after(tmp_path: Path) -> None:
    """submit_window off the UI thread returns only once the window is in the spool on disk, so a kiosk
    killed (or its power cut) right after a window closed still sends that window after the restart."""
    spool = tmp_path / "spool.sqlite"
    dead = f"mqtt://127.0.0.1:{free_port()}"
    proc = subprocess.run([sys.executable, "-c", _KILLED_AFTER_SUBMIT, str(spool), dead,
                           str(Path(__file__).resolve().parent.parent)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr[-2000:]
    kept = Spool(spool, 100).peek()
    print(f"\n[kill -9 after submit] windows submitted=8 in the spool after the kill={len(kept)}")
    assert [item.seq for item in kept] == list(range(kept[0].seq, kept[0].seq + 8)) and kept[0].seq > 1


def test_window_submitted_on_the_ui_thread_is_only_queued(tmp_path: Path) -> None:
    """On the main (Qt UI) thread submit_window leaves the disk write to the worker: no fsync on the UI."""
    spool = Spool(tmp_path / "spool.sqlite", 100)
    first = spool.last_seq() + 1
    publisher = TelemetryPublisher(MqttConfig(url=f"mqtt://127.0.0.1:{free_port()}"), "s1", "k1", spool)
    assert publisher.submit_window(window(0), {}, "test-1") is True  # worker not started: still in memory
    assert spool.depth() == 0 and not publisher.drained
    assert publisher.submit_window(window(1), {}, "test-1", spool_now=True) is True
    assert [item.seq for item in spool.peek()] == [first]
    publisher.start()
    try:
        wait_until(lambda: spool.depth() == 2, 10, "the worker spooling the queued window")
    finally:
        publisher.stop()


def test_windows_acknowledged_by_a_broker_killed_before_it_saved_them_are_sent_again(tmp_path: Path) -> None:
    """Mosquitto as deployed (persistence, autosave every 60 s) acknowledges a window once it holds it in memory.
    Before: the kiosk then deleted the window; a broker killed before its next save had lost the windows queued
    for a collector that was away, and nobody could send them again. Now the kiosk keeps acknowledged windows
    for a few minutes and sends them again after the reconnect; central stores each once."""
    broker = MosquittoBroker(tmp_path / "mosq", persistent=True).start()
    db = f"sqlite:///{tmp_path / 'central.db'}"
    CentralServer(broker.url, db, tmp_path / "c1").start().stop()  # the collector's session, then it is away
    spool = Spool(tmp_path / "spool.sqlite", 1000)
    first = spool.last_seq() + 1
    publisher = TelemetryPublisher(MqttConfig(url=broker.url, health_interval_s=3600, reconnect_max_s=1),
                                   "s1", "k1", spool)
    central = None
    try:
        publisher.start()
        wait_until(lambda: publisher.state.connection == "connected", 10, "kiosk connected")
        for i in range(10):
            publisher.submit_window(window(i), {"happy": 1}, "test-1")
        wait_until(lambda: publisher.drained, 10, "all 10 windows acknowledged by the broker")
        broker.kill()  # before its first autosave: the 10 windows queued for the collector are gone
        broker.start()
        central = CentralServer(broker.url, db, tmp_path / "c2").start()
        wait_until(lambda: len(_stored(central)) >= 10, 30, "the acknowledged windows sent again")
        stored = _stored(central)
        _report("broker killed before saving", first, 10, stored, central.collector.stats.duplicates)
    finally:
        publisher.stop()
        if central is not None:
            central.stop()
        broker.stop()
