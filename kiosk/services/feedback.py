"""Feedback presses on their way into the anonymous aggregates: counted per face, never per shopper.

Normally the presses ride on the next mood window the camera closes. A kiosk without a working camera closes no
mood windows, so `FeedbackOnlyWindows` closes its own on the window clock: people 0, no expressions, just the
presses; and only when there were presses, so a camera-less kiosk does not report "nobody was here".
Presses go out only k (`mood.k_anonymity`) or more at a time, like people: a window is published with its
minute, and one "unhappy" press in it, at a kiosk with one shopper in front, says who pressed what.
"""
from __future__ import annotations

import threading
from datetime import datetime

from contract import FEEDBACK_FACES
from vision.types import MoodWindow


class FeedbackCounter:
    """Counts feedback presses per face between two windows (thread-safe: UI adds, vision thread takes).

    Fewer than `k` presses are not handed out: they wait for a later window, as a mood window with fewer than
    k people merges into the next, and presses still below k when the kiosk stops are never sent."""

    def __init__(self, k: int = 1) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self._k = k
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(FEEDBACK_FACES, 0)

    def add(self, face: str) -> None:
        with self._lock:
            self._counts[face] = self._counts.get(face, 0) + 1

    def take(self) -> dict[str, int]:
        """The counts since the last take, resetting them (called when a window closes); all zero, and the
        presses kept for a later window, while there are fewer than k of them."""
        with self._lock:
            if sum(self._counts.values()) < self._k:
                return dict.fromkeys(FEEDBACK_FACES, 0)
            counts, self._counts = self._counts, dict.fromkeys(FEEDBACK_FACES, 0)
        return counts

    def pending(self) -> dict[str, int]:
        """The presses not handed out yet, because there are fewer than k of them."""
        with self._lock:
            return dict(self._counts)


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
