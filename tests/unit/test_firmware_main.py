"""firmware/main.py and hal.py's USB stdio link, run as a process under CPython with the fake `machine`:
the kiosk side talks to it through its stdin/stdout pipes, as the host would through USB CDC."""
from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Boots the real main.py. CPython's buffered stdin would hide bytes from select.poll, so stdin is
# swapped for an unbuffered one (MicroPython's stdin has no such buffer). Extra setup comes in argv[1].
LAUNCHER = """
import io, runpy, sys, types
sys.path.insert(0, {tests!r})
from helpers import fake_machine
from helpers.reader_transcripts import ScriptedChip
machine = fake_machine.install()
machine.SPI_DEVICES[0] = ScriptedChip()
if sys.argv[1] == "safe":
    machine.PINS[2] = machine.Pin(2, machine.Pin.IN, value=0)
    machine.PINS[4] = machine.Pin(4, machine.Pin.IN, value=0)
raw = io.FileIO(0, "rb", closefd=False)
sys.stdin = types.SimpleNamespace(buffer=raw, fileno=raw.fileno)
runpy.run_path({main!r}, run_name="__main__")
"""


def _launch(mode: str) -> subprocess.Popen:
    code = LAUNCHER.format(tests=str(REPO / "tests"), main=str(REPO / "firmware" / "main.py"))
    return subprocess.Popen(
        [sys.executable, "-u", "-c", code, mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _read_lines(proc: subprocess.Popen, want: int, timeout: float = 5.0) -> list[bytes]:
    out = b""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while out.count(b"\n") < want and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            out += chunk
    return out.splitlines()


@pytest.mark.timeout(30)
def test_main_announces_itself_answers_the_host_and_keeps_a_heartbeat() -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from helpers.fake_machine import install

    install()
    from app.protocol import decode, encode

    proc = _launch("run")
    try:
        hello = decode(_read_lines(proc, 1)[0])
        assert hello[0] == "HELLO" and hello[2][1:] == ("1.0.0", "1")
        proc.stdin.write(encode("HOST", 0, ("1", "CAFE0001")) + encode("ACK", 0) + encode("LED", 1, ("idle",)))
        proc.stdin.flush()
        frames = [decode(line) for line in _read_lines(proc, 4, timeout=4.0)]
        assert ("ACK", 0, ()) in frames and ("ACK", 1, ()) in frames
        assert any(f[0] == "HB" for f in frames)  # quiet line: heartbeat within a second
        assert proc.poll() is None  # still running
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=5)
    assert b"Traceback" not in err, err.decode()


@pytest.mark.timeout(30)
def test_holding_happy_and_unhappy_at_power_up_stays_in_safe_mode() -> None:
    proc = _launch("safe")
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err.decode()
    assert out.strip() == b"moodkiosk peripheral: safe mode, app not started"
