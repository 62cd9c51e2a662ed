"""Feeds systemd's watchdog from the UI thread, so a hung event loop (a frozen screen) gets the kiosk restarted."""
from __future__ import annotations

import logging
from typing import Callable

from PySide6.QtCore import QObject, QTimer

from deploy.notify import Notifier

logger = logging.getLogger(__name__)


class UiWatchdog(QObject):
    """A timer in the UI thread pings every third of the watchdog interval while `healthy()` holds (the other
    threads the kiosk cannot do without); when the UI thread hangs, the timer cannot fire and systemd acts."""

    def __init__(self, notifier: Notifier, healthy: Callable[[], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._notifier = notifier
        self._healthy = healthy
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._beat)
        self._complained = False

    def start(self) -> bool:
        """Start pinging if systemd asked for a watchdog (WATCHDOG_USEC); False otherwise."""
        if self._notifier.watchdog_s is None:
            return False
        self._timer.setInterval(max(100, round(self._notifier.watchdog_s * 1000 / 3)))
        self._timer.start()
        self._beat()
        return True

    def stop(self) -> None:
        self._timer.stop()

    def _beat(self) -> None:
        if self._healthy():
            self._notifier.ping()
            self._complained = False
        elif not self._complained:
            self._complained = True
            logger.error("watchdog: a kiosk thread stopped; no more pings, systemd will restart the kiosk")
