"""scripts/setup.sh: after `setup.sh dev` (scripts/test.sh), `setup.sh kiosk` (scripts/demo.sh) only checks."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def staged_checkout(tmp_path: Path) -> Path:
    """A checkout whose .venv is this test run's real environment (linked), with its own stamps."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "setup.sh", root / "scripts" / "setup.sh")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)
    return root


def setup(root: Path, profile: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "scripts/setup.sh", profile], cwd=root, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(root / "nowhere")))


def test_the_dev_stamp_counts_for_the_kiosk_profile(tmp_path):
    root = staged_checkout(tmp_path)
    time.sleep(0.01)
    (root / ".venv" / ".installed-dev").touch()
    started = time.monotonic()
    result = setup(root, "kiosk")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "setup: ready (kiosk) in .venv"
    assert "installing" not in result.stdout and time.monotonic() - started < 30  # no pip run (it would fail: no index)
