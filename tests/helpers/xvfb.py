"""A real X server (Xvfb) without a window manager, the way a store's kiosk runs, plus readers of its state."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Iterator
from contextlib import contextmanager

import pytest


@dataclass(frozen=True)
class Geometry:
    x: int
    y: int
    width: int
    height: int


@contextmanager
def xvfb(width: int, height: int) -> Iterator[str]:
    """Start Xvfb on a free display number (it picks one and writes it to a pipe); yields ":N"."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is missing: scripts/setup.sh dev installs the Debian package xvfb")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
                             "-nolisten", "tcp", "-noreset"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number.isdigit():
            pytest.fail("Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(10)


def window_geometry(display: str, name: str, timeout: float = 30.0) -> Geometry:
    """Where the X server has the top-level window called `name` (polls until it is mapped)."""
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        done = subprocess.run(["xwininfo", "-display", display, "-name", name], capture_output=True, text=True)
        out = done.stdout
        if done.returncode == 0 and "IsViewable" in out:
            def field(label: str) -> int:
                return int(re.search(rf"{label}:\s+(-?\d+)", out).group(1))  # type: ignore[union-attr]
            return Geometry(field("Absolute upper-left X"), field("Absolute upper-left Y"), field("Width"),
                            field("Height"))
        time.sleep(0.2)
    raise AssertionError(f"no viewable window {name!r} on {display}: {out}")


def screensaver_settings(display: str) -> str:
    """`xset q` of the display (screen saver timeout, DPMS state)."""
    return subprocess.run(["xset", "-display", display, "q"], capture_output=True, text=True, check=True).stdout
