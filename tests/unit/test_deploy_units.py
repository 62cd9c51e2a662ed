"""The shipped systemd units: installed into a staging tree with their user and directories, each passes
`systemd-analyze verify`, and a missing session program or a broken unit is one line naming it."""
from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.install import KINDS, InstallError, InstallPlan, install, render_unit, verify_unit

REPO = Path(__file__).resolve().parents[2]
USER = pwd.getpwuid(os.getuid()).pw_name  # an existing user: --root leaves the system's users alone


def plan(tmp_path: Path, kind: str, **changes) -> InstallPlan:
    values = dict(kind=KINDS[kind], root=tmp_path / "root", user=USER, bin_dir=Path(sys.executable).parent,
                  config=Path("/etc/moodkiosk/kiosk.toml"), rotation=0)
    values.update(changes)
    return InstallPlan(**values)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_unit_installs_and_passes_systemd_analyze_verify(tmp_path, kind):
    done = install(plan(tmp_path, kind))
    unit = tmp_path / "root" / "etc" / "systemd" / "system" / KINDS[kind].unit
    assert unit.is_file() and f"wrote {unit}" in done and f"verified {unit.name} with systemd-analyze" in done
    text = unit.read_text()
    assert "@" not in text.replace("getty@", "")  # every field filled in
    assert "Restart=always" in text and "WatchdogSec=" in text and "Type=notify" in text
    assert f"User={USER}" in text and f"ExecStart=" in text and str(Path(sys.executable).parent / "moodkiosk") in text
    state = tmp_path / "root" / "var" / "lib" / KINDS[kind].state_dir
    assert state.is_dir() and oct(state.stat().st_mode & 0o777) == "0o750"
    etc = tmp_path / "root" / "etc" / "moodkiosk"
    assert oct(etc.stat().st_mode & 0o777) == "0o750"
    if KINDS[kind].config_example:  # the kiosk gets the documented example to edit, readable by its group only
        config = etc / "kiosk.toml"
        assert config.read_text().startswith("# moodkiosk kiosk config") and oct(config.stat().st_mode & 0o777) == "0o640"


def test_cage_rotation_and_the_cli(tmp_path):
    text = render_unit(plan(tmp_path, "kiosk-cage", rotation=270))
    assert "ExecStart=/usr/bin/cage -d -r -r -r -- " in text
    result = subprocess.run([sys.executable, "-m", "kiosk", "install-service", "central", "--root", str(tmp_path / "r"),
                             "--user", USER], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "verified moodkiosk-central.service with systemd-analyze" in result.stdout
    assert "systemctl daemon-reload && systemctl enable --now moodkiosk-central.service" in result.stdout


def test_missing_pieces_are_one_line(tmp_path):
    cases = [
        (plan(tmp_path, "kiosk-x11", bin_dir=tmp_path / "nobin"), "no moodkiosk program there; pass --bin-dir"),
        (plan(tmp_path, "central", user="no-such-user-14"), "user no-such-user-14 does not exist"),
    ]
    for bad, expected in cases:
        with pytest.raises(InstallError, match=expected):
            install(bad)
    broken = tmp_path / "broken.service"
    broken.write_text("[Unit]\nDescription=x\n[Service]\nExecStart=/nonexistent/moodkiosk run\nRestart=sometimes\n")
    with pytest.raises(InstallError) as info:
        verify_unit(broken)
    assert str(info.value).startswith(f"{broken}: systemd-analyze verify: ") and "\n" not in str(info.value)
    result = subprocess.run([sys.executable, "-m", "kiosk", "install-service", "kiosk-cage", "--root",
                             str(tmp_path / "r"), "--user", USER, "--bin-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("moodkiosk install-service: error: ")


def test_log_file_beside_the_journal(tmp_path):
    log = tmp_path / "kiosk.log"
    example = REPO / "kiosk" / "config.example.toml"
    ok = subprocess.run([sys.executable, "-m", "kiosk", "validate-config", str(example), "--log-file", str(log)],
                        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert ok.returncode == 0, ok.stderr
    assert "Loaded config" in log.read_text() and "Loaded config" in ok.stderr  # both: the journal gets stderr
    bad = subprocess.run([sys.executable, "-m", "kiosk", "validate-config", str(example), "--log-file",
                          str(tmp_path / "missing" / "k.log")], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        f"moodkiosk validate-config: error: --log-file {tmp_path / 'missing' / 'k.log'}: No such file or directory"]


def test_paths_with_spaces_and_percent_signs_reach_the_program_whole(tmp_path):
    """A virtual environment under "/opt/mood kiosk 100%" was written as ExecStart=/opt/mood kiosk 100%/...: systemd
    splits at the space and expands %-specifiers, so `systemd-analyze verify` refused the unit; the same
    --config path passed verify and started the kiosk with the wrong arguments. The paths are now quoted and
    escaped for systemd, and systemd-analyze (which checks the program path) accepts the unit."""
    bin_dir = tmp_path / "mood kiosk 100%" / "bin"
    bin_dir.mkdir(parents=True)
    program = bin_dir / "moodkiosk"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    config = Path("/etc/mood kiosk/kiosk 100%.toml")
    done = install(plan(tmp_path, "kiosk-eglfs", bin_dir=bin_dir, config=config))
    assert "verified moodkiosk-kiosk-eglfs.service with systemd-analyze" in done
    text = render_unit(plan(tmp_path, "kiosk-eglfs", bin_dir=bin_dir, config=config))
    program_word = '"' + f"{bin_dir}/moodkiosk".replace("%", "%%") + '"'
    assert f'ExecStart={program_word} run --config "/etc/mood kiosk/kiosk 100%%.toml"' in text


@pytest.mark.parametrize(("changes", "message"), [
    ({"config": Path("/etc/moodkiosk/k.toml\nExecStartPre=/bin/touch /tmp/x")}, "--config .* control character"),
    ({"config": Path("kiosk.toml")}, "--config kiosk.toml: must be an absolute path"),
    ({"config": Path("/etc/../../../tmp/evil.toml")}, r"--config /etc/\.\./\.\./\.\./tmp/evil.toml: must not contain '\.\.'"),
])
def test_a_config_path_that_would_change_the_unit_is_refused(tmp_path, changes, message):
    """A line break in --config added its own directive to the unit (it passed systemd-analyze verify)."""
    with pytest.raises(InstallError, match=message):
        install(plan(tmp_path, "kiosk-eglfs", **changes))
    assert not (tmp_path / "root" / "etc" / "systemd").exists()
