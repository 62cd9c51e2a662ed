"""The telemetry spool under file faults, through a real Mosquitto into the real collector: a spool damaged by a
power cut, and a disk that fills up while the kiosk runs. Nothing accepted is lost, the kiosk keeps going."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers.central import CentralServer, wait_until
from helpers.mosquitto import MosquittoBroker, free_port, mosquitto  # noqa: F401  (fixture)
from helpers.windows import window
from kiosk.config import MqttConfig
from kiosk.services.spool import Spool, clock_seq_floor
from kiosk.services.telemetry import TelemetryPublisher

pytestmark = pytest.mark.timeout(90)
TESTS = Path(__file__).resolve().parent.parent


def _stored_seqs(central: CentralServer) -> list[int]:
    rows = central.store._conn().execute(
        "SELECT seq FROM windows WHERE store_id = 's1' AND kiosk_id = 'k1' ORDER BY window_start").fetchall()
    return [int(seq) for (seq,) in rows]


def _send_more(path: Path, url: str, first: int, count: int) -> Spool:
    """Restart the kiosk on the spool file and close `count` more windows; returns once all are acknowledged."""
    spool = Spool(path, 1000)
    publisher = TelemetryPublisher(MqttConfig(url=url, health_interval_s=3600), "s1", "k1", spool)
    publisher.start()
    try:
        for i in range(first, first + count):
            assert publisher.submit_window(window(i), {"happy": 1}, "test-1", spool_now=True)
        wait_until(lambda: publisher.drained, 20, "every window acknowledged")
    finally:
        publisher.stop()
    return spool


@pytest.mark.parametrize("damage", ["torn tail", "overwritten header", "scribbled page"])
def test_damaged_spool_is_set_aside_and_the_kiosk_goes_on_with_a_higher_seq(
        mosquitto: MosquittoBroker, tmp_path: Path, damage: str) -> None:
    """Before: `Spool()` raised "database disk image is malformed" / "file is not a database", so the kiosk
    refused to start (under systemd: a restart loop); and a fresh spool restarts seq at 1, which central
    rejects as a replay for every later window of that kiosk."""
    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path).start()
    path = tmp_path / "spool.sqlite"
    try:
        # 1. Five windows sent and stored, then 300 spooled while the broker is away.
        _send_more(path, mosquitto.url, 0, 5).close()
        spool = Spool(path, 1000)
        spool_first = spool.last_seq() - 4
        publisher = TelemetryPublisher(MqttConfig(url=f"mqtt://127.0.0.1:{free_port()}"), "s1", "k1", spool)
        for i in range(5, 305):
            assert publisher.submit_window(window(i), {"happy": 1}, "test-1", spool_now=True)
        spool.close()
        # A kiosk closes one window a minute, so the clock (in ms) is always far ahead of its seq; 300 windows
        # spooled in a burst are not, and an unreadable counter falls back on the clock: let it pass them.
        wait_until(lambda: clock_seq_floor() > spool_first + 305, 5, "the ms clock past the burst's seqs")
        data = path.read_bytes()
        assert len(data) > 100_000
        # 2. The power cut: the file's tail torn off, or its first page overwritten.
        if damage == "torn tail":
            path.write_bytes(data[: len(data) // 2])
        elif damage == "overwritten header":
            path.write_bytes(b"\0" * 4096 + data[4096:])
        else:  # opens fine; only SQLite's integrity check sees it (rows out of order with absurd seqs)
            middle = 4096 * 5 + 100
            path.write_bytes(data[:middle] + b"\xab" * 300 + data[middle + 300:])
        # 3. The kiosk starts again: the spool opens, the damaged file is kept aside, what was readable is sent.
        restarted = Spool(path, 1000)
        recovery = restarted.recovery
        assert recovery is not None and recovery.quarantined_to.exists()
        assert spool_first + 305 <= recovery.next_seq < 2**53  # above all it handed out, within mood.v1's range
        salvaged = restarted.depth()
        assert salvaged == recovery.windows_salvaged
        if damage != "overwritten header":
            assert salvaged > 0  # the windows on intact pages are carried over
        restarted.close()
        _send_more(path, mosquitto.url, 305, 5).close()
        wait_until(lambda: len(_stored_seqs(central)) == 5 + salvaged + 5, 20, "old, salvaged and new windows")
        seqs = _stored_seqs(central)
        print(f"\n[spool {damage}] salvaged {salvaged} of 300 spooled windows; stored seqs "
              f"{seqs[:3]}..{seqs[-3:]}; rejected {central.collector.stats.snapshot()}")
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # seq order == time order, no replay
        assert seqs[-5:] == list(range(recovery.next_seq, recovery.next_seq + 5))
    finally:
        central.stop()


_DISK_FULL_KIOSK = """
import resource, signal, sys, threading, time
sys.path.insert(0, sys.argv[3])
from helpers.windows import window
from kiosk.config import MqttConfig
from kiosk.services.spool import Spool
from kiosk.services.telemetry import TelemetryPublisher
spool = Spool(sys.argv[1], int(sys.argv[4]))
publisher = TelemetryPublisher(MqttConfig(url=sys.argv[2], health_interval_s=3600), "s1", "k1", spool)
publisher.start()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (48 * 1024, hard))
accepted = []
def vision_worker():  # like kiosk.app.on_window: the camera pipeline's worker thread closes the windows
    for i in range(40):
        accepted.append(publisher.submit_window(window(i), {"happy": 1}, "test-1"))
thread = threading.Thread(target=vision_worker, name="vision-worker")
thread.start()
thread.join()
deadline = time.monotonic() + 10
while "spool fault" not in publisher.state.message and time.monotonic() < deadline:
    time.sleep(0.05)
print("fault shown:", publisher.state.message, flush=True)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space freed
deadline = time.monotonic() + 30
while not publisher.drained and time.monotonic() < deadline:
    time.sleep(0.05)
print("accepted", accepted.count(True), "drained", publisher.drained, "worker alive", publisher.worker_alive, flush=True)
publisher.stop()
"""


def test_spool_file_gone_the_kiosk_goes_on_without_replays(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """Before: a spool file that was deleted (a re-imaged kiosk, a new SD card, an operator's `rm`) came back
    at seq 1, and central refused every later window of that kiosk as a replay until seq passed the old one.
    A fresh spool now starts at the clock in milliseconds, above anything an earlier spool handed out."""
    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path).start()
    path = tmp_path / "spool.sqlite"
    try:
        _send_more(path, mosquitto.url, 0, 5).close()
        wait_until(lambda: len(_stored_seqs(central)) == 5, 20, "the first five windows stored")
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        _send_more(path, mosquitto.url, 5, 5).close()
        wait_until(lambda: len(_stored_seqs(central)) == 10, 20, "the windows of the fresh spool stored")
        seqs = _stored_seqs(central)
        assert seqs == sorted(seqs) and seqs[0] > 1 and seqs[5] > seqs[4], seqs
        assert central.collector.stats.snapshot()["rejected_total"] == 0
    finally:
        central.stop()


@pytest.mark.parametrize("bound", [1000, 5])
def test_disk_full_while_running_loses_no_window_and_keeps_telemetry_alive(
        mosquitto: MosquittoBroker, tmp_path: Path, bound: int) -> None:
    """Before: a window that met a full disk on the vision thread was dropped ("lost"), and one queued from
    the UI thread killed the telemetry worker (an uncaught SpoolError), so nothing was sent until a restart.
    With a spool bound of 5 the windows held in memory keep that bound too (they grew without one): the oldest
    go, the newest are sent."""
    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path).start()
    try:
        proc = subprocess.run([sys.executable, "-c", _DISK_FULL_KIOSK, str(tmp_path / "spool.sqlite"), mosquitto.url,
                               str(TESTS), str(bound)], capture_output=True, text=True, timeout=80)
        print(proc.stdout)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "fault shown: spool fault" in proc.stdout, proc.stderr[-3000:]
        assert "not spooled yet" in proc.stderr and "held in memory" in proc.stderr, proc.stderr[-3000:]
        assert "accepted 40 drained True worker alive True" in proc.stdout, proc.stderr[-4000:]
        if bound == 1000:
            wait_until(lambda: len(_stored_seqs(central)) == 40, 20, "all 40 windows stored")
            seqs = _stored_seqs(central)  # a fresh spool starts at the clock in ms, then counts up by one
            assert seqs == list(range(seqs[0], seqs[0] + 40)), seqs
        else:
            assert "held in memory, the spool's bound: dropped the oldest" in proc.stderr, proc.stderr[-3000:]
            wait_until(lambda: len(_stored_seqs(central)) >= bound, 20, "the newest windows stored")
            seqs = _stored_seqs(central)
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and len(seqs) < 40, seqs
    finally:
        central.stop()


def test_bench_spool_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from devtools import bench_spool

    parser = argparse.ArgumentParser()
    bench_spool.add_arguments(parser)
    assert bench_spool.main(parser.parse_args(["--windows", "300"])) == 0
    out = capsys.readouterr().out
    assert "spool of 300 windows" in out and "300 windows acknowledged" in out and "(300 received" in out
