"""Times the shopper's path on the running kiosk: a keyboard-wedge scan until the offers screen greeting them is painted."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

from PySide6.QtCore import QEvent, QEventLoop, QObject, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from kiosk.errors import KioskError
from kiosk.ui.window import KioskWindow


@dataclass(frozen=True)
class ScanTarget:
    """A known customer to scan: the card number the reader types and the first name the greeting must show."""

    card_id: str
    first_name: str


class _GreetingPaintWatch(QObject):
    """Event filter on the offers screen's greeting label: notes a paint of it while the offers screen is the
    current screen and the greeting shows `expected` (the shopper's first name)."""

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)
        self._window = window
        self.expected: str | None = None
        self.painted = False

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if (
            event.type() == QEvent.Type.Paint
            and self.expected is not None
            and self._window.current_screen() is self._window.offers
            and self.expected in self._window.offers.greeting.text()
        ):
            self.painted = True
        return False


def scan_to_offers_painted(window: KioskWindow, targets: Sequence[ScanTarget], timeout_s: float = 5.0,
                           settle_ms: int = 50) -> list[float]:
    """Milliseconds from the first key of each wedge scan to the offers screen painted with that shopper's greeting.

    The window must be shown on the kiosk's attract screen, with the keyboard wedge on. Each scan is typed as
    real key events through the window system path (`QTest.keyClick` on the QWindow: the same route a USB
    reader's keys take after the platform plugin), digits then Enter. The clock starts just before the first
    key and stops when the Qt event-loop pass returns in which the greeting label was painted showing the
    shopper's first name on the current offers screen; the window's whole repaint (offer cards, "Done", notice)
    and the flush to the backing store happen in that same pass. Then "Done" and the feedback screen's "skip"
    are clicked, the attract screen is waited for, and the event loop runs `settle_ms` before the next scan.
    Raises KioskError when a scan does not reach its offers screen within `timeout_s`.
    """
    qt = QApplication.instance()
    handle = window.windowHandle()
    if qt is None or handle is None or not window.isVisible():
        raise KioskError("the kiosk window must be shown before the scan benchmark")
    watch = _GreetingPaintWatch(window)
    window.offers.greeting.installEventFilter(watch)
    latencies: list[float] = []
    try:
        for target in targets:
            _wait_for(window, lambda: window.current_screen() is window.attract, timeout_s, "attract screen")
            QTest.qWait(settle_ms)
            watch.expected, watch.painted = target.first_name, False
            started = time.perf_counter()
            for char in target.card_id:
                QTest.keyClick(handle, Qt.Key(ord(char)))
            QTest.keyClick(handle, Qt.Key.Key_Return)
            deadline = started + timeout_s
            while not watch.painted:
                if time.perf_counter() > deadline:
                    raise KioskError(
                        f"scan of a known card did not paint its offers screen within {timeout_s:.0f} s "
                        f"(screen: {type(window.current_screen()).__name__}, greeting: {window.offers.greeting.text()!r})"
                    )
                qt.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
            latencies.append((time.perf_counter() - started) * 1000)
            watch.expected = None
            _click(window.offers.done)
            _wait_for(window, lambda: window.current_screen() is window.feedback, timeout_s, "feedback screen")
            _click(window.feedback.skip)
    finally:
        window.offers.greeting.removeEventFilter(watch)
        watch.deleteLater()
    return latencies


def _click(button: QWidget) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def _wait_for(window: KioskWindow, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise KioskError(f"the kiosk did not reach the {what} within {timeout_s:.0f} s "
                             f"(screen: {type(window.current_screen()).__name__})")
        QApplication.instance().processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
