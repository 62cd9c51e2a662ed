"""Makes the kiosk window cover its whole screen, with or without a window manager.

`showFullScreen()` only asks the window manager for full screen; a bare X server has none, so the window
kept its default size in a corner. Here the window is frameless, placed on the screen's geometry before and
after the request, and follows the screen when it changes (rotation, another monitor plugged in).
"""
from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

from kiosk.errors import KioskError


def cover_screen(window: QWidget, screen: QScreen | None = None) -> QScreen:
    """Show `window` over all of `screen` (default: the primary one) and keep it there; returns the screen."""
    screen = screen or QGuiApplication.primaryScreen()
    if screen is None:
        raise KioskError("no screen: Qt found no display output; check the cable and the session (see docs/INSTALL.md)")
    window.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
    window.setGeometry(screen.geometry())
    window.showFullScreen()
    window.setGeometry(screen.geometry())  # nobody honours the full-screen request without a window manager

    def refit(rect: QRect) -> None:
        window.setGeometry(rect)

    screen.geometryChanged.connect(refit)
    return screen
