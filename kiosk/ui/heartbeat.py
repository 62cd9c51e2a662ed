"""Measures how long the UI thread stalls: a 10 ms timer notes how late each of its ticks fires."""
from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer


@dataclass(frozen=True)
class StallReport:
    """Lateness of the heartbeat ticks (ms); `max_ms` is the longest UI-thread stall seen."""

    ticks: int
    max_ms: float
    p99_ms: float
    over_50ms: int
    seconds: float

    def line(self) -> str:
        return (
            f"UI-thread stall: longest {self.max_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
            f"{self.over_50ms} stalls > 50 ms in {self.ticks} ticks over {self.seconds:.1f} s"
        )


class StallMeter(QObject):
    """Start it with the event loop, read `report()` at the end."""

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._interval = interval_ms / 1000.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._beat)
        self._late: list[float] = []
        self._last: float | None = None
        self._start: float | None = None

    def start(self) -> None:
        self._start = self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _beat(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self._late.append(max(0.0, now - self._last - self._interval) * 1000.0)
        self._last = now

    def report(self) -> StallReport:
        late = sorted(self._late)
        p99 = late[min(len(late) - 1, int(len(late) * 0.99))] if late else 0.0
        seconds = (self._last or 0.0) - (self._start or 0.0)
        return StallReport(len(late), late[-1] if late else 0.0, p99, sum(1 for x in late if x > 50.0), seconds)
