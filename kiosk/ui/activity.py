"""A touch or click anywhere on the kiosk window counts as the shopper still being there (restarts the timeout)."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget

_PRESSES = (QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin)


class ActivityFilter(QObject):
    """Application-wide filter; never consumes the event, so buttons still get their clicks."""

    def __init__(self, window: QWidget, on_activity: Callable[[], None]) -> None:
        super().__init__(window)
        self._window = window
        self._on_activity = on_activity

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if event.type() in _PRESSES and isinstance(obj, QWidget) and obj.window() is self._window:
            self._on_activity()
        return False
