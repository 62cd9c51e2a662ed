"""`moodkiosk bench-central` end to end at a small size: its own broker, two collector processes, a dashboard,
the SSE clock and a real kiosk publisher; every window it sends is stored once and seen on the stream."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(120)


def test_small_bench_stores_every_window_once_and_times_them_all() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "bench-central", "--db", "sqlite", "--kiosks", "20",
         "--windows-per-kiosk", "3", "--latency-rate", "20", "--latency-seconds", "1", "--kiosk-path-windows", "5",
         "--ingest-processes", "2", "--json"],
        capture_output=True, text=True, timeout=110,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (result,) = json.loads(run.stdout)
    assert result["windows"] == 20 * 3 * 2 + 20 + 5 == result["stored"]
    assert result["lost"] == 0 and result["duplicates"] == 0 and result["ingest_processes"] == 2
    assert result["connections"] == 20 and result["latency_windows"] == 20 and result["kiosk_path_windows"] == 5
    assert 0 < result["latency_p95_ms"] < 5000 and result["ingest_rate"] > 0 and result["drain_rate"] > 0
