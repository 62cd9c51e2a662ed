"""Keyboard-wedge card readers type digits + Enter: an application-wide key filter collects them for the kiosk window."""
from __future__ import annotations

import time
from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QWidget

from kiosk.services.cards import KeyboardWedge


_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class WedgeKeyFilter(QObject):
    """Eats printable keys and Enter aimed at `window` (the kiosk has no text fields) and reports fast bursts.

    Only events addressed to widgets are read: a real keyboard's event reaches the QWindow first and then
    the focus widget, and reading both would count every key twice.
    """

    def __init__(
        self,
        window: QWidget,
        wedge: KeyboardWedge,
        on_scan: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._wedge = wedge
        self._on_scan = on_scan
        self._clock = clock

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if event.type() != QEvent.Type.KeyPress or not isinstance(obj, QWidget):
            return False
        if obj.window() is not self._window:
            return False
        assert isinstance(event, QKeyEvent)
        if event.isAutoRepeat():
            return True
        now = self._clock()
        if event.key() in _ENTER_KEYS:
            text = self._wedge.enter(now)
            if text is not None:
                self._on_scan(text)
            return True
        char = event.text()
        if len(char) == 1 and char.isprintable():
            self._wedge.key(char, now)
            return True
        return False
