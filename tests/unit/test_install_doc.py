"""docs/INSTALL.md is run, not just read: every plain `sh` block runs here, in order, in a scratch tree that
stands in for /etc and /var (apt-get simulated, services installed with --root); the blocks that need the
real machine say so (`sh target`) and hold only such commands; the broker block is run too."""
from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from central.store import open_store
from vision.settings import DEFAULT_EXPRESSION_MODEL

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "INSTALL.md"
BLOCK = re.compile(r"^```(\w+)[ \t]*([\w-]*)\n(.*?)^```[ \t]*$", re.S | re.M)
# Paths of the real machine the doc writes to; the test puts them under its scratch root.
PATHS = re.compile(r"(?<![\w/.-])(/etc/systemd/system|/etc/moodkiosk|/etc/mosquitto/moodkiosk|/var/lib/moodkiosk-central|/var/lib/moodkiosk"
                   r"|/var/backups/moodkiosk)")
# What a `sh target` block may hold: commands that need systemd running, a camera, PyPI or the service group.
TARGET_ONLY = ("systemctl ", "journalctl ", "python3 -m venv ", "/opt/moodkiosk/bin/pip ", "moodkiosk cameras",
               "chgrp moodkiosk ", "PGSERVICEFILE=")
RUN, LATER = ("",), ("target",)


def shell_blocks() -> list[tuple[str, str]]:
    return [(marker, body) for lang, marker, body in BLOCK.findall(DOC.read_text(encoding="utf-8")) if lang == "sh"]


def test_every_shell_block_runs_here_or_says_why():
    blocks = shell_blocks()
    assert len(blocks) >= 10
    for marker, body in blocks:
        assert marker in RUN + LATER, f"unknown block marker {marker!r}"
        if marker == "target":
            for line in body.strip().splitlines():
                assert line.startswith(TARGET_ONLY), f"{line!r} could run here: put it in a plain sh block"


def sandboxed(body: str, root: Path, user: str) -> str:
    lines = []
    for line in body.splitlines():
        if line.startswith("moodkiosk install-service "):  # its paths are the target's; --root stages them
            line = f"{line} --root {root}".replace("--user moodkiosk", f"--user {user}")
        else:
            line = line.replace("sqlite:////var/", f"sqlite:///{root}/var/")
            line = PATHS.sub(lambda m: f"{root}{m.group(1)}", line)
            line = line.replace("apt-get install ", "apt-get install -s -q ")  # checks the names in the package lists
        lines.append(line)
    return "\n".join(lines) + "\n"


def install_previous_model(tmp_path: Path, folder: Path) -> None:
    import hashlib

    import onnx

    from kiosk.services.model_store import install

    model = onnx.load(str(DEFAULT_EXPRESSION_MODEL))
    for prop in model.metadata_props:
        if prop.key == "version":
            prop.value = "1.9.0"
    old = tmp_path / "expression-old.onnx"
    onnx.save(model, str(old))
    install(old, folder, hashlib.sha256(old.read_bytes()).hexdigest())


@pytest.mark.timeout(300)
def test_the_install_guide_runs(tmp_path):
    root, work = tmp_path / "root", tmp_path / "work"
    work.mkdir()
    shutil.copy(DEFAULT_EXPRESSION_MODEL, work / "expression-new.onnx")  # "the new model" the guide installs
    install_previous_model(tmp_path, root / "var" / "lib" / "moodkiosk" / "models")  # an update replaces one
    (root / "var" / "lib" / "moodkiosk-central").mkdir(parents=True)
    open_store(f"sqlite:///{root}/var/lib/moodkiosk-central/central.db").close()  # as the service leaves it
    user = pwd.getpwuid(os.getuid()).pw_name
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
               MANAGER_PASSWORD="correct-horse-battery", MOODKIOSK_CARD_HASH_KEY="install-doc-key-0123456789")
    env.pop("QT_QPA_PLATFORM", None)
    for marker, body in shell_blocks():
        if marker not in RUN:
            continue
        script = sandboxed(body, root, user)
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, env=env, capture_output=True,
                              text=True, timeout=180)
        assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout[-1500:]}\n--- stderr\n{done.stderr[-1500:]}"
    units = root / "etc" / "systemd" / "system"
    assert sorted(p.name for p in units.glob("*.service")) == ["moodkiosk-central.service", "moodkiosk-kiosk-x11.service"]
    broker = root / "etc" / "mosquitto" / "moodkiosk"
    assert "acl_file" in (broker / "mosquitto.conf").read_text()
    assert (broker / "credentials.json").stat().st_mode & 0o777 == 0o600
    assert (broker / "passwords").owner() == "mosquitto"
    assert str(broker / "mosquitto.conf") in (units / "mosquitto.service.d" / "moodkiosk.conf").read_text()
    assert 'store_id = "berlin-mitte"' in (root / "etc" / "moodkiosk" / "kiosk.toml").read_text()
    assert "anna" in (root / "etc" / "moodkiosk" / "central-users.json").read_text()
    assert (root / "var" / "lib" / "moodkiosk" / "models" / "current.onnx").exists()
    assert (root / "var" / "backups" / "moodkiosk" / "central.db").stat().st_size > 0
    assert (root / "etc" / "moodkiosk" / "central.env").stat().st_mode & 0o777 == 0o640
