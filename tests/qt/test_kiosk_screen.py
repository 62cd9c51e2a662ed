"""`moodkiosk run` on a bare X server without a window manager (as in a store): the window covers the screen,
landscape and portrait, and the screen no longer blanks. Real Xvfb, real kiosk process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.xvfb import Geometry, screensaver_settings, window_geometry, xvfb

REPO = Path(__file__).resolve().parents[2]


def kiosk_config(tmp_path: Path, rotation: int = 0) -> Path:
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'store_id = "s1"\nkiosk_id = "k1"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[camera]\nenabled = false\n[loyalty]\nseed_demo_data = true\n[ui]\nrotation = {rotation}\n',
        encoding="utf-8")
    return config


def kiosk_env(display: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "DISPLAY")}
    env["MOODKIOSK_CARD_HASH_KEY"] = "screen-test-key-0123456789abcdef"
    if display is not None:
        env["DISPLAY"] = display
    return env


@pytest.mark.parametrize("width, height, rotation", [(1920, 1080, 0), (1080, 1920, 0), (1920, 1080, 90)],
                         ids=["landscape", "portrait", "rotation-refused"])
def test_run_covers_the_whole_screen_without_a_window_manager(tmp_path, width, height, rotation):
    with xvfb(width, height) as display:
        before = screensaver_settings(display)
        assert "prefer blanking:  yes" in before and "timeout:  600" in before  # Xvfb's defaults: it would blank
        config = kiosk_config(tmp_path, rotation)
        proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config),
                                 "--duration", "20"], cwd=REPO, env=kiosk_env(display),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert window_geometry(display, "moodkiosk") == Geometry(0, 0, width, height)
            after = screensaver_settings(display)
        finally:
            proc.terminate()
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
        assert "prefer blanking:  no" in after and "timeout:  0" in after, after
        assert "DPMS is Enabled" not in after  # (Xvfb has no DPMS; on a real X server the kiosk switches it off)
        assert "Traceback" not in err and f"({width}x{height}, x11 session, blanking off)" in err
        refused = [line for line in err.splitlines() if "Screen: xrandr -o right" in line]
        if rotation:  # Xvfb cannot rotate: one warning line naming the tool and the X error, the kiosk runs on
            assert len(refused) == 1 and "BadMatch" in refused[0], err[-1500:]
        else:
            assert not refused


def test_a_display_that_does_not_answer_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "kiosk", "run", "--config", str(kiosk_config(tmp_path))],
                            cwd=REPO, env=kiosk_env(":987"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1:] == [
        "moodkiosk run: error: no screen: X display :987 does not answer (is the X server running, and may this "
        "user use it?)"]


def test_eglfs_and_linuxfb_are_rotated_and_cursorless_before_qt_starts():
    from kiosk.display import Session, prepare_before_qt

    eglfs = {"QT_QPA_PLATFORM": "eglfs"}
    prepare_before_qt(270, True, eglfs)
    assert eglfs == {"QT_QPA_PLATFORM": "eglfs", "QT_QPA_EGLFS_ROTATION": "270", "QT_QPA_EGLFS_HIDECURSOR": "1"}
    linuxfb = {"QT_QPA_PLATFORM": "linuxfb:fb=/dev/fb0"}
    prepare_before_qt(90, True, linuxfb)
    assert linuxfb["QT_QPA_PLATFORM"] == "linuxfb:fb=/dev/fb0:rotation=90"
    assert Session.detect({"WAYLAND_DISPLAY": "wayland-0"}) is Session.WAYLAND
    assert Session.detect({"DISPLAY": ":0"}) is Session.X11


def test_full_screen_hides_the_pointer_and_covers_the_screen(qtbot, make_config):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication

    from kiosk.app import KioskApp

    app = KioskApp(make_config(), fullscreen=True)
    qtbot.addWidget(app.window)
    app.start()
    try:
        qtbot.waitExposed(app.window)
        assert app.window.geometry() == QGuiApplication.primaryScreen().geometry()
        assert QGuiApplication.overrideCursor().shape() == Qt.CursorShape.BlankCursor
    finally:
        app.stop()
    assert QGuiApplication.overrideCursor() is None
