"""AnalysisGate: may the camera's frames be analysed right now? No while a shopper has paused mood reading,
and no outside the store's opening hours. Set from the UI thread, read by the vision worker per frame."""
from __future__ import annotations

import enum
import threading

from vision.opening_hours import OpeningHours


class GateState(enum.Enum):
    OPEN = "open"
    PAUSED = "paused"  # a shopper chose "without mood reading"
    CLOSED = "closed"  # outside the opening hours


class AnalysisGate:
    """Thread-safe switch between the kiosk (pause / resume) and the vision worker (`state(timestamp)`)."""

    def __init__(self, hours: OpeningHours | None = None) -> None:
        self._paused = threading.Event()
        self._hours = hours or OpeningHours()

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def state(self, timestamp: float) -> GateState:
        """The gate for a frame taken at `timestamp` (epoch seconds)."""
        if self._paused.is_set():
            return GateState.PAUSED
        if not self._hours.is_open(timestamp):
            return GateState.CLOSED
        return GateState.OPEN
