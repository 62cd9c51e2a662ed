"""`moodkiosk demo` / `moodkiosk run` as processes: the demo ends by itself and reports its longest UI stall."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def moodkiosk(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MOODKIOSK_DATA_DIR=str(tmp_path / "data"),
               MOODKIOSK_CARD_HASH_KEY="cli-test-key-0123456789abcdef")
    return subprocess.run([sys.executable, "-m", "kiosk", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_demo_runs_for_its_duration_and_prints_the_longest_stall(tmp_path):
    result = moodkiosk(tmp_path, "demo", "--duration", "2", "--no-camera", "--size", "1080x1920")
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.search(r"UI-thread stall: longest ([\d.]+) ms, p99 ([\d.]+) ms, (\d+) stalls > 50 ms in (\d+) ticks",
                      result.stdout)
    assert match, result.stdout
    assert int(match.group(4)) > 50  # the 10 ms heartbeat really ran for the run's length
    assert (tmp_path / "data" / "loyalty.sqlite").exists()  # demo data seeded on first run
    assert "Traceback" not in result.stderr


def test_run_with_a_bad_config_is_one_line_without_traceback(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text('language = "fr"\n[camera]\nfps = 3\n', encoding="utf-8")
    result = moodkiosk(tmp_path, "run", "--config", str(config))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("moodkiosk run: error:") and "language" in line and "camera.fps: unknown key" in line


def test_run_with_a_corrupt_loyalty_store_runs_without_it_and_says_so_once(tmp_path):
    """The loyalty store is the shop's own data: left as it is, never moved; the kiosk runs without it (it used to
    stop with "[loyalty] db_path: ... file is not a database", exit 2: a restart loop with a blank screen)."""
    garbage = tmp_path / "corrupt.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    config = tmp_path / "kiosk.toml"
    config.write_text('store_id = "s1"\nkiosk_id = "k1"\n[camera]\nenabled = false\n[loyalty]\ndb_path = "corrupt.sqlite"\n',
                      encoding="utf-8")
    result = moodkiosk(tmp_path, "run", "--config", str(config), "--duration", "2")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    told = [line for line in result.stderr.splitlines() if "import-loyalty" in line]
    assert len(told) == 1, result.stderr[-2000:]
    assert f"[loyalty] db_path: loyalty store {garbage}: cannot open: file is not a database; the kiosk runs" in told[0]
    assert garbage.read_bytes() == b"not a database" * 100  # the shop's file is left as it was
    assert not list(tmp_path.glob("corrupt.sqlite.damaged-*"))


def test_run_with_a_corrupt_spool_sets_it_aside_and_runs(tmp_path):
    """The spool only holds unsent windows the kiosk can rebuild from: a damaged one is kept aside, not a
    reason to stop (the loyalty store above is the shop's own data: that one is left where it is)."""
    garbage = tmp_path / "corrupt.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    config = tmp_path / "kiosk.toml"
    config.write_text('store_id = "s1"\nkiosk_id = "k1"\n[camera]\nenabled = false\n[mqtt]\nenabled = true\n'
                      'url = "mqtt://127.0.0.1:1"\nspool_path = "corrupt.sqlite"\n', encoding="utf-8")
    result = moodkiosk(tmp_path, "run", "--config", str(config), "--duration", "2")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"{garbage} was damaged (file is not a database): moved to {garbage}.damaged-" in result.stderr
    (kept,) = tmp_path.glob("corrupt.sqlite.damaged-*")
    assert kept.read_bytes() == b"not a database" * 100


def test_demo_bad_size_is_a_clear_error(tmp_path):
    result = moodkiosk(tmp_path, "demo", "--size", "big")
    assert result.returncode == 2
    assert result.stderr.strip() == "moodkiosk demo: error: --size: expected WIDTHxHEIGHT like 1080x1920, got 'big'"


def test_no_screen_is_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env["MOODKIOSK_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run([sys.executable, "-m", "kiosk", "demo", "--no-camera", "--duration", "1"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("moodkiosk demo: error: no screen:")
    assert "Traceback" not in result.stderr
