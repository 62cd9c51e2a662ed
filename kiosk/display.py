"""The kiosk's screen set-up outside Qt's widgets: rotation, hidden cursor and no blanking, per session kind.

Qt cannot rotate a screen or stop a display from blanking by itself, and each session does it its own way:
eglfs / linuxfb take environment variables before the QApplication exists, a bare X server takes `xrandr`
and `xset` (Debian `x11-xserver-utils`), a Wayland kiosk compositor rotates and keeps the output on itself
(`cage -r`; cage never blanks). A missing tool is one warning naming the package; the kiosk still runs.
"""
from __future__ import annotations

import enum
import os
import shutil
import subprocess
from dataclasses import dataclass


# Degrees clockwise -> xrandr's word for it.
_XRANDR_ROTATION = {0: "normal", 90: "right", 180: "inverted", 270: "left"}


class Session(enum.Enum):
    """What draws the kiosk's pixels."""

    X11 = "x11"  # Qt's xcb plugin: a bare X server (xinit) or a desktop
    WAYLAND = "wayland"  # Qt's wayland plugin under a compositor such as cage
    EGLFS = "eglfs"  # straight to the display (DRM/KMS), no display server
    LINUXFB = "linuxfb"  # the framebuffer device, no display server
    OFFSCREEN = "offscreen"  # tests and headless runs: nothing to set up

    @classmethod
    def detect(cls, env: os._Environ[str] | dict[str, str] | None = None) -> "Session":
        """The session Qt will pick: QT_QPA_PLATFORM first (its plugin name before any `:options`), else the
        display variables it looks at."""
        env = os.environ if env is None else env
        platform = env.get("QT_QPA_PLATFORM", "").split(":", 1)[0].split(";", 1)[0].strip().lower()
        named = {"xcb": cls.X11, "wayland": cls.WAYLAND, "wayland-egl": cls.WAYLAND, "eglfs": cls.EGLFS,
                 "linuxfb": cls.LINUXFB, "offscreen": cls.OFFSCREEN, "minimal": cls.OFFSCREEN, "vnc": cls.OFFSCREEN}
        if platform in named:
            return named[platform]
        if env.get("WAYLAND_DISPLAY"):
            return cls.WAYLAND
        return cls.X11


@dataclass(frozen=True)
class DisplaySetup:
    """What `prepare_before_qt` / `prepare_session` did, for the log line and the tests."""

    session: Session
    rotated: bool
    blanking_off: bool
    notes: tuple[str, ...] = ()


def prepare_before_qt(rotation: int, fullscreen: bool, env: os._Environ[str] | dict[str, str] | None = None) -> None:
    """Set the variables eglfs and linuxfb read when the QApplication starts (a no-op for other sessions)."""
    env = os.environ if env is None else env
    session = Session.detect(env)
    if session is Session.EGLFS:
        if rotation:
            env.setdefault("QT_QPA_EGLFS_ROTATION", str(rotation))
        if fullscreen:
            env.setdefault("QT_QPA_EGLFS_HIDECURSOR", "1")
    elif session is Session.LINUXFB and rotation and "rotation=" not in env.get("QT_QPA_PLATFORM", ""):
        env["QT_QPA_PLATFORM"] = f"{env['QT_QPA_PLATFORM']}:rotation={rotation}"


def prepare_session(rotation: int, env: os._Environ[str] | dict[str, str] | None = None) -> DisplaySetup:
    """After Qt is up, before the window shows: rotate an X screen and switch its blanking and power saving
    off. Other sessions were set up before Qt (eglfs, linuxfb) or by their compositor (Wayland)."""
    env = os.environ if env is None else env
    session = Session.detect(env)
    if session is Session.X11:
        return _prepare_x11(rotation)
    notes: tuple[str, ...] = ()
    if session is Session.WAYLAND and rotation:
        notes = (f"ui.rotation = {rotation}: under Wayland the compositor rotates (cage: -r once per 90 degrees)",)
    rotated = session in (Session.EGLFS, Session.LINUXFB) and bool(rotation)
    return DisplaySetup(session, rotated, session is not Session.OFFSCREEN, notes)


def _prepare_x11(rotation: int) -> DisplaySetup:
    notes: list[str] = []
    blanking_off = _run_x_tool(["xset", "s", "off", "s", "noblank"], notes)
    if blanking_off:  # separately: xset drops every setting of a call whose -dpms the server cannot do
        dpms: list[str] = []
        if not _run_x_tool(["xset", "-dpms"], dpms) and not any("does not have" in note for note in dpms):
            notes += dpms
    rotated = False
    if rotation:
        rotated = _run_x_tool(["xrandr", "-o", _XRANDR_ROTATION[rotation]], notes)  # the screen, whatever output
    return DisplaySetup(Session.X11, rotated, blanking_off, tuple(notes))


def _run_x_tool(command: list[str], notes: list[str]) -> bool:
    if shutil.which(command[0]) is None:
        notes.append(f"{command[0]} not found: install the Debian package x11-xserver-utils "
                     f"({'screen blanking stays on' if command[0] == 'xset' else 'the screen is not rotated'})")
        return False
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        notes.append(f"{' '.join(command)}: {exc}")
        return False
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["failed"])[0]
        notes.append(f"{' '.join(command)}: {first}")
        return False
    return True
