"""`moodkiosk install-service KIND`: put a shipped systemd unit in place with its user, directories and config.

Steps, each failing with one line that names the thing and the fix: the session program the unit starts is
installed (xinit, cage), the service user exists (created as a system user when installing on this machine),
the config and state directories exist with the service user's permissions, the unit is written and passes
`systemd-analyze verify`, and systemd is told (daemon-reload, enable) when it runs this machine.
`--root DIR` writes into a staging tree instead (images, tests) and leaves users and systemd alone.
"""
from __future__ import annotations

import argparse
import grp
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from kiosk.cli import UserFacingError


REPO_DOCS = Path(__file__).resolve().parent.parent / "docs"


class InstallError(UserFacingError):
    """An install step cannot be done; the message names what is missing and how to fix it."""


@dataclass(frozen=True)
class UnitKind:
    """One shipped unit: its file, the program its session needs (and the Debian package that has it)."""

    unit: str
    needs: tuple[tuple[str, str], ...]  # (program path, Debian package)
    groups: tuple[str, ...]  # supplementary groups the service user joins
    state_dir: str
    config_example: str | None  # file put in /etc/moodkiosk when no config is there yet


KINDS: dict[str, UnitKind] = {
    "kiosk-x11": UnitKind("moodkiosk-kiosk-x11.service", (("/usr/bin/xinit", "xinit"), ("/usr/bin/Xorg", "xserver-xorg-core")),
                          ("video", "input", "render", "dialout"), "moodkiosk", "kiosk.toml"),
    "kiosk-cage": UnitKind("moodkiosk-kiosk-cage.service", (("/usr/bin/cage", "cage"),),
                           ("video", "input", "render", "dialout"), "moodkiosk", "kiosk.toml"),
    "kiosk-eglfs": UnitKind("moodkiosk-kiosk-eglfs.service", (), ("video", "input", "render", "dialout"), "moodkiosk",
                            "kiosk.toml"),
    "central": UnitKind("moodkiosk-central.service", (), (), "moodkiosk-central", None),
}


@dataclass(frozen=True)
class InstallPlan:
    """Everything the command will do, decided before it touches anything."""

    kind: UnitKind
    root: Path
    user: str
    bin_dir: Path
    config: Path
    rotation: int

    @property
    def on_this_machine(self) -> bool:
        return self.root == Path("/")

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=sorted(KINDS), help="which service: the kiosk in its session, or central")
    parser.add_argument("--user", default=None, help="service user (default moodkiosk; created if missing)")
    parser.add_argument("--config", default="/etc/moodkiosk/kiosk.toml", help="the kiosk config the unit runs")
    parser.add_argument("--rotation", type=int, choices=(0, 90, 180, 270), default=0,
                        help="kiosk-cage only: rotate the output clockwise (cage -r)")
    parser.add_argument("--root", default="/", help="install into this tree instead of the running system")
    parser.add_argument("--bin-dir", default=None,
                        help="folder holding the moodkiosk program (default: this installation's)")


def main(args: argparse.Namespace) -> int:
    plan = InstallPlan(KINDS[args.kind], Path(args.root), args.user or "moodkiosk",
                       Path(args.bin_dir) if args.bin_dir else Path(sys.executable).parent,
                       Path(args.config), args.rotation)
    for line in install(plan):
        print(line)
    return 0


def install(plan: InstallPlan) -> list[str]:
    """Carry the plan out; returns what was done, one line per step."""
    done: list[str] = []
    check_paths(plan)
    check_programs(plan)
    done.append(ensure_user(plan))
    done += make_directories(plan)
    unit_path = write_unit(plan)
    done.append(f"wrote {unit_path}")
    done.append(verify_unit(unit_path))
    done += tell_systemd(plan)
    return done


def check_paths(plan: InstallPlan) -> None:
    """The paths that go into the unit: absolute (the service runs in its state directory), without '..' (the
    example config is written at --config under --root) and without control characters (a line break in --config
    wrote a directive of its own into the unit)."""
    for option, path in (("--config", plan.config), ("--bin-dir", plan.bin_dir)):
        text = str(path)
        if not text.isprintable():
            raise InstallError(f"{option} {text!r}: contains a control character (a line break?)")
        if not path.is_absolute():
            raise InstallError(f"{option} {text}: must be an absolute path")
        if ".." in path.parts:  # with --root, /../../etc/x would write the example config outside the staging tree
            raise InstallError(f"{option} {text}: must not contain '..'")


def exec_word(value: str) -> str:
    """One word of a unit's Exec line, as systemd reads it back: % and $ doubled (specifiers and variables),
    and in double quotes with \\ and \" escaped when it has a space or a quote (systemd would split it)."""
    value = value.replace("%", "%%").replace("$", "$$")
    if any(c.isspace() or c in "\"'\\;" for c in value) or not value:
        value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def check_programs(plan: InstallPlan) -> None:
    program = plan.bin_dir / "moodkiosk"
    if not os.access(program, os.X_OK):
        raise InstallError(f"{program}: no moodkiosk program there; pass --bin-dir with the virtual environment's bin")
    for path, package in plan.kind.needs:
        if not os.access(path, os.X_OK):
            raise InstallError(f"{path} is missing: the {plan.kind.unit} session needs it; "
                               f"install it with `apt-get install {package}`")


def ensure_user(plan: InstallPlan) -> str:
    try:
        pwd.getpwnam(plan.user)
        created = False
    except KeyError:
        if not plan.on_this_machine:
            raise InstallError(f"user {plan.user} does not exist; with --root, create it in the image first") from None
        run(["useradd", "--system", "--user-group", "--home-dir", f"/var/lib/{plan.kind.state_dir}",
             "--shell", "/usr/sbin/nologin", plan.user], f"creating the service user {plan.user}")
        created = True
    groups = [g for g in plan.kind.groups if _group_exists(g)]
    if groups and plan.on_this_machine:
        run(["usermod", "--append", "--groups", ",".join(groups), plan.user], f"adding {plan.user} to {groups}")
    joined = f", groups {','.join(groups)}" if groups and plan.on_this_machine else ""
    return f"{'created' if created else 'using'} user {plan.user}{joined}"


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def make_directories(plan: InstallPlan) -> list[str]:
    """/etc/moodkiosk (root, readable by the service group: secrets live there) and the state directory."""
    user = pwd.getpwnam(plan.user)
    lines = []
    for absolute, owner, mode in (("/etc/moodkiosk", 0, 0o750), (f"/var/lib/{plan.kind.state_dir}", user.pw_uid, 0o750)):
        path = plan.path(absolute)
        try:
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, owner, user.pw_gid)
            path.chmod(mode)
        except OSError as exc:
            raise InstallError(f"{path}: cannot create it with owner and mode ({exc.strerror}); run as root") from exc
        lines.append(f"directory {path} ({'root' if owner == 0 else plan.user}:{plan.user} {mode:o})")
    if plan.kind.config_example:
        config = plan.path(str(plan.config))
        if not config.exists():
            example = resources.files("kiosk").joinpath("config.example.toml").read_text(encoding="utf-8")
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(example, encoding="utf-8")
            os.chown(config, 0, user.pw_gid)
            config.chmod(0o640)
            lines.append(f"config {config} from the example: edit store_id, kiosk_id and [mqtt] before starting")
    return lines


def render_unit(plan: InstallPlan) -> str:
    text = resources.files("deploy").joinpath("units", plan.kind.unit).read_text(encoding="utf-8")
    fields = {"@USER@": plan.user, "@MOODKIOSK@": exec_word(str(plan.bin_dir / "moodkiosk")),
              "@CONFIG@": exec_word(str(plan.config)),
              "@DOCS@": quote(str(REPO_DOCS)).replace("%", "%%"),  # a URI; % is a specifier to systemd
              "@CAGE_ARGS@": "-r " * (plan.rotation // 90)}
    for field, value in fields.items():
        text = text.replace(field, value)
    return text


def write_unit(plan: InstallPlan) -> Path:
    target = plan.path(f"/etc/systemd/system/{plan.kind.unit}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_unit(plan), encoding="utf-8")
        target.chmod(0o644)
    except OSError as exc:
        raise InstallError(f"{target}: cannot write the unit ({exc.strerror}); run as root") from exc
    return target


def verify_unit(unit: Path) -> str:
    """`systemd-analyze verify`: unknown keys, missing programs and bad dependencies become one line."""
    if shutil.which("systemd-analyze") is None:
        return "systemd-analyze not found: unit not verified (Debian package systemd)"
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
                          check=False)
    problems = [line for line in done.stderr.splitlines() if str(unit.name) in line or unit.name.split(".")[0] in line]
    if done.returncode != 0 or problems:
        first = (problems or done.stderr.strip().splitlines() or ["failed"])[0]
        raise InstallError(f"{unit}: systemd-analyze verify: {first}")
    return f"verified {unit.name} with systemd-analyze"


def tell_systemd(plan: InstallPlan) -> list[str]:
    name = plan.kind.unit
    if not plan.on_this_machine:
        return [f"staged under {plan.root}; on the target run: systemctl daemon-reload && systemctl enable --now {name}"]
    if not Path("/run/systemd/system").is_dir():
        return [f"systemd is not running here; on the target run: systemctl enable --now {name}"]
    run(["systemctl", "daemon-reload"], "reloading systemd")
    run(["systemctl", "enable", name], f"enabling {name}")
    return [f"enabled {name}; start it with `systemctl start {name}`, follow it with `journalctl -u {name} -f`"]


def run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except OSError as exc:
        raise InstallError(f"{what}: {command[0]}: {exc.strerror}") from exc
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[0]
        raise InstallError(f"{what}: {' '.join(command)}: {first}")
