"""`moodkiosk bench-spool`: a kiosk back on line after a long broker outage, its spool full of windows.

Fills a real spool with N windows, then times what the kiosk does with it: opening the file (with its
integrity check), appending one more window, and sending the whole backlog through a real Mosquitto to a
QoS 1 subscriber (the drain rate decides how long the dashboard lags after an outage)."""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import contract
from devtools.devservices import LocalMosquitto, ServiceMissing
from kiosk.config import MqttConfig
from kiosk.services.spool import Spool
from kiosk.services.telemetry import TelemetryPublisher
from vision.aggregate import mood_index as aggregate_mood_index
from vision.types import MoodWindow


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--windows", type=int, default=20_000,
                        help="windows in the spool (default 20000: two weeks of one-minute windows)")
    parser.add_argument("--timeout-s", type=float, default=600.0, help="give up the drain after this long")


def _window(i: int, t0: datetime) -> MoodWindow:
    people = 3 + i % 5
    counts = {"happy": i % people, "neutral": people - i % people}
    return MoodWindow(t0 + timedelta(minutes=i), t0 + timedelta(minutes=i + 1), people, counts,
                      round(aggregate_mood_index(counts), 4))


def _fill(path: Path, count: int) -> None:
    """Windows 0..count-1 with the seq and payload the kiosk would have written, in one transaction."""
    spool = Spool(path, max(count + 10, 10))
    t0 = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=count + 5)
    with spool._lock:  # the bench's own shortcut: one commit instead of `count` fsyncs
        spool._db.execute("BEGIN")
        spool._db.executemany(
            "INSERT INTO windows (seq, payload, spooled_at) VALUES (?, ?, 0)",
            ((i + 1, contract.MoodDocument.from_window("s1", "k1", i + 1, _window(i, t0), {"happy": 1}, "bench").encode())
             for i in range(count)),
        )
        spool._db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (count + 1,))
        spool._db.execute("COMMIT")
    spool.close()


def main(args: argparse.Namespace) -> int:
    if args.windows < 1:
        raise SystemExit("moodkiosk bench-spool: error: --windows must be at least 1")
    with tempfile.TemporaryDirectory(prefix="moodkiosk-bench-spool-") as tmp:
        path = Path(tmp) / "spool.sqlite"
        _fill(path, args.windows)
        started = time.perf_counter()
        spool = Spool(path, args.windows + 10)
        open_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        depth = spool.depth()
        depth_ms = (time.perf_counter() - started) * 1000
        try:
            broker = LocalMosquitto(Path(tmp) / "mosquitto").start()
        except ServiceMissing as exc:
            raise SystemExit(f"moodkiosk bench-spool: error: {exc}") from None
        received = 0
        lock = threading.Lock()

        def on_message(*_: object) -> None:
            nonlocal received
            with lock:
                received += 1

        subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-spool-sub", protocol=mqtt.MQTTv5)
        subscriber.on_message = on_message
        subscriber.connect("127.0.0.1", broker.port)
        subscriber.subscribe(contract.topic_for("s1", "k1", "mood"), qos=1)
        subscriber.loop_start()
        time.sleep(0.5)
        publisher = TelemetryPublisher(MqttConfig(url=broker.url, health_interval_s=3600), "s1", "k1", spool)
        try:
            started = time.perf_counter()
            publisher.start()
            while spool.depth() > 0 and time.perf_counter() - started < args.timeout_s:
                time.sleep(0.05)
            drain_s = time.perf_counter() - started
            left = spool.depth()
        finally:
            publisher.stop()
            subscriber.loop_stop()
            subscriber.disconnect()
            broker.stop()
            spool.close()
    sent = depth - left
    print(f"spool of {depth} windows ({path.name}): open {open_ms:.0f} ms (incl. integrity check), "
          f"depth {depth_ms:.1f} ms")
    print(f"drain through Mosquitto: {sent} windows acknowledged in {drain_s:.1f} s = {sent / drain_s:.0f} windows/s"
          f" ({received} received by the subscriber){'; NOT DRAINED, ' + str(left) + ' left' if left else ''}")
    return 0 if left == 0 else 1
