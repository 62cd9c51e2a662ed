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


def test_a_venv_left_without_pip_is_made_again_and_no_network_is_one_line(tmp_path):
    """Debian's python3 without python3-venv (not in the apt list before), or a full disk, leaves .venv/bin/python
    without pip; every later run skipped `venv` and died on 'No module named pip' until someone removed .venv.
    Without network the run ended on pip's own messages, with no line of setup's saying what failed."""
    root = staged_checkout(tmp_path)
    (root / ".venv").rename(root / "linked")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], check=True, timeout=60)
    result = subprocess.run(["bash", "scripts/setup.sh", "kiosk"], cwd=root, capture_output=True, text=True,
                            timeout=180, env=dict(os.environ, PYTHON=sys.executable, PIP_NO_INDEX="1",
                                                  PIP_FIND_LINKS=str(root / "nowhere")))
    assert result.returncode != 0
    assert "No module named pip" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        "setup: pip could not install the project into .venv (no network to the package index, or a full disk?)")
    assert subprocess.run([str(root / ".venv" / "bin" / "python"), "-m", "pip", "--version"],
                          capture_output=True).returncode == 0  # the venv was made again, with pip
    assert not (root / ".venv" / ".installed-kiosk").exists()


def test_apt_failing_is_one_line_naming_the_packages(tmp_path):
    """No network for apt (or no sudo): the run ended on apt's own E: lines, nothing said which packages setup
    needed. dpkg-query and apt-get are stand-ins here (the real ones would change this machine)."""
    root = staged_checkout(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dpkg-query").write_text("#!/bin/sh\n[ \"$3\" = libgl1 ] && exit 1\nprintf 'install ok installed'\n")
    (bin_dir / "apt-get").write_text("#!/bin/sh\necho 'E: Failed to fetch http://deb.debian.org/ (no network)' >&2\n"
                                     "exit 100\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    (root / ".venv" / ".installed-kiosk").touch()
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", PIP_NO_INDEX="1")
    result = subprocess.run(["bash", "scripts/setup.sh", "kiosk"], cwd=root, capture_output=True, text=True,
                            timeout=60, env=env)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "setup: apt-get could not install libgl1 (no network or no apt source?); install it and run setup again")
