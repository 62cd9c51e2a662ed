"""Several collector processes in one shared-subscription group, fed by the benchmark's simulated kiosks,
against a real broker and a real SQLite file: the fleet is split, every window is stored once, the dashboard
callbacks see every window, and a worker killed mid-run is restarted without losing anything."""
from __future__ import annotations

import asyncio
import os
import queue
import signal
import struct
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import contract
from central.collector import CollectorSettings, KioskEvent, merge_stats
from central.collector_group import CollectorGroup
from central.errors import CentralError
from devtools.loadgen import _publish_all, _read_packets, _receive_maximum, kiosk_ids
from central.records import WindowRecord
from central.store import open_store
from helpers.central import wait_until
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(120)


def _publish(broker: MosquittoBroker, kiosks: list[int], seqs: list[int]) -> int:
    """The benchmark's simulated kiosks (one raw MQTT 5 connection each); returns windows acknowledged."""
    go, out = threading.Event(), queue.Queue()
    go.set()
    acked, failed, _, _, sent = asyncio.run(_publish_all("127.0.0.1", broker.port, kiosks, seqs, 0.0, go, out))
    assert out.get_nowait() == "ready" and failed == 0 and len(sent) == len(kiosks) * len(seqs)
    return acked


def test_group_splits_the_fleet_stores_once_and_survives_a_killed_worker(mosquitto: MosquittoBroker,
                                                                         tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'central.db'}"
    store = open_store(db_url)
    seen: list[WindowRecord] = []
    events: list[KioskEvent] = []
    lock = threading.Lock()

    def on_windows(records: list[WindowRecord]) -> None:
        with lock:
            seen.extend(records)

    group = CollectorGroup(CollectorSettings(contract.parse_broker_url(mosquitto.url), group="grp", client_id="grp-collector"), db_url, store,
                           processes=2, on_windows=on_windows, on_kiosk=events.append)
    group.start()
    status = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="status-pub", protocol=mqtt.MQTTv5)
    status.connect("127.0.0.1", mosquitto.port)
    status.loop_start()
    try:
        kiosks = list(range(40))
        assert _publish(mosquitto, kiosks, list(range(1, 11))) == 400
        wait_until(lambda: store.count_windows() == 400, 30, "400 windows stored")
        wait_until(lambda: group.snapshot()["stored"] == 400, 10, "both collectors' counters add up to 400")
        snap = group.snapshot()
        assert snap["collectors"] == 2 and snap["duplicates"] == 0 and snap["rejected_total"] == 0
        own = group.collector.stats.snapshot()["stored"]
        assert 0 < own < 400, f"the broker should split the fleet between both processes (in-process stored {own})"
        wait_until(lambda: len(seen) == 400, 10, "the dashboard callback to see every window")
        assert {(w.store, w.kiosk, w.seq) for w in seen} == {(*kiosk_ids(k), s) for k in kiosks for s in range(1, 11)}

        # Status is followed by the in-process collector only: one event per change, not one per process.
        status.publish("moodkiosk/v1/b000/k0/status", "online", qos=1, retain=True).wait_for_publish(5)
        wait_until(lambda: any(e.kind == "status" for e in events), 10, "the status event")
        assert [e.online for e in events if e.kind == "status"] == [True]

        worker = group._workers[0]
        os.kill(worker.process.pid, signal.SIGKILL)  # a crash: whatever it held unacknowledged is redelivered
        assert _publish(mosquitto, kiosks, list(range(11, 21))) == 400
        wait_until(lambda: store.count_windows() == 800, 60, "800 windows stored after the worker was killed")
        wait_until(lambda: group._workers[0] is not worker and group._workers[0].process.is_alive(), 30,
                   "the killed worker to be restarted")
        rows = store._fetch(store._conn(), "SELECT count(*), count(DISTINCT store_id || kiosk_id || seq) FROM windows")
        assert rows[0] == (800, 800)
    finally:
        status.loop_stop()
        group.stop()
        store.close()
    assert len(events) == 1


def test_group_refuses_zero_processes_and_an_unreachable_broker(tmp_path: Path) -> None:
    from helpers.mosquitto import free_port

    db_url = f"sqlite:///{tmp_path / 'c.db'}"
    store = open_store(db_url)
    try:
        with pytest.raises(CentralError, match="at least 1"):
            CollectorGroup(CollectorSettings(contract.parse_broker_url("mqtt://127.0.0.1:1883")), db_url, store, processes=0)
        group = CollectorGroup(CollectorSettings(contract.parse_broker_url(f"mqtt://127.0.0.1:{free_port()}")), db_url, store, processes=2)
        with pytest.raises(CentralError, match="unreachable"):
            group.start()
    finally:
        store.close()


def test_merge_stats_adds_counters_and_needs_every_collector_connected() -> None:
    a = {"received": 3, "stored": 2, "duplicates": 1, "rejected": {"schema": 1}, "rejected_total": 1, "batches": 1,
         "db_errors": 0, "connected": True}
    b = dict(a, rejected={"schema": 2, "topic": 1}, rejected_total=3, connected=False)
    merged = merge_stats([a, b])
    assert merged["stored"] == 4 and merged["rejected"] == {"schema": 3, "topic": 1} and merged["rejected_total"] == 4
    assert merged["connected"] is False and merged["collectors"] == 2
    assert merge_stats([a])["connected"] is True


def test_load_generator_reads_split_packets_and_the_receive_maximum() -> None:
    buffer = bytearray(b"\x40\x02\x00\x01\x40\x03\x00\x02\x87\x40")  # two PUBACKs (one refused) + a partial one
    assert _read_packets(buffer) == [(0x40, b"\x00\x01"), (0x40, b"\x00\x02\x87")]
    assert buffer == bytearray(b"\x40")
    props = b"\x22" + struct.pack("!H", 10) + b"\x21" + struct.pack("!H", 20)  # topic alias max, receive max
    assert _receive_maximum(b"\x00\x00" + bytes([len(props)]) + props) == 20
    assert _receive_maximum(b"\x00\x00\x00") == 65535
