"""Feedback presses on their way into the anonymous aggregates: counted per face, never per shopper.

Normally the presses ride on the next mood window the camera closes. A kiosk without a working camera closes no
mood windows, so `FeedbackOnlyWindows` closes its own on the window clock: people 0, no expressions, just the
presses; and only when there were presses, so a camera-less kiosk does not report "nobody was here".
"""
from __future__ import annotations

import threading
from datetime import datetime

from contract import FEEDBACK_FACES
from vision.types import MoodWindow


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


class FeedbackOnlyWindows:
    """Closes back-to-back windows [previous end, now) that carry only feedback presses."""

    def __init__(self, counter: FeedbackCounter, started: datetime) -> None:
        self._counter = counter
        self._start = started

    def close(self, now: datetime) -> tuple[MoodWindow, dict[str, int]] | None:
        """End the open window at ``now``; the window and its presses, or None when nobody pressed."""
        if now <= self._start:
            return None
        window, self._start = MoodWindow(self._start, now, people=0, counts={}, mood_index=0.0), now  # nobody counted
        counts = self._counter.take()
        return (window, counts) if any(counts.values()) else None
