"""Feedback presses on their way into the anonymous aggregates: counted per face, never per shopper.

Normally the presses ride on the next mood window the camera closes. A kiosk without a working camera closes no
mood windows, so `FeedbackOnlyWindows` closes its own on the window clock: people 0, no expressions, just the
presses; and only when there were presses, so a camera-less kiosk does not report "nobody was here".
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from kiosk.session import FEEDBACK_FACES


class FeedbackCounter:
    """Counts feedback presses per face between two windows (thread-safe: UI adds, vision thread takes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(FEEDBACK_FACES, 0)

    def add(self, face: str) -> None:
        with self._lock:
            self._counts[face] = self._counts.get(face, 0) + 1

    def take(self) -> dict[str, int]:
        """The counts since the last take, resetting them (called when a window closes)."""
        with self._lock:
            counts, self._counts = self._counts, dict.fromkeys(FEEDBACK_FACES, 0)
        return counts


@dataclass(frozen=True)
class FeedbackOnlyWindow:
    """A window without camera data: the fields telemetry reads from a mood window, with nobody counted."""

    start: datetime
    end: datetime
    people: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)
    mood_index: float = 0.0
    merged_windows: int = 1


class FeedbackOnlyWindows:
    """Closes back-to-back windows [previous end, now) that carry only feedback presses."""

    def __init__(self, counter: FeedbackCounter, started: datetime) -> None:
        self._counter = counter
        self._start = started

    def close(self, now: datetime) -> tuple[FeedbackOnlyWindow, dict[str, int]] | None:
        """End the open window at ``now``; the window and its presses, or None when nobody pressed."""
        if now <= self._start:
            return None
        window, self._start = FeedbackOnlyWindow(self._start, now), now
        counts = self._counter.take()
        return (window, counts) if any(counts.values()) else None
