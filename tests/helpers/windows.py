"""Mood windows for tests (vision.types.MoodWindow), built deterministically."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import contract
from vision.types import MoodWindow

# Midnight UTC three days ago: recent enough for the collector's plausible range whenever the suite runs.
T0 = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)


def window(i: int, minutes: float = 1.0, t0: datetime = T0) -> MoodWindow:
    """The i-th one-minute window after t0, with varying but valid aggregates."""
    people = 3 + i % 5
    happy = i % (people + 1)
    return MoodWindow(t0 + timedelta(minutes=i * minutes), t0 + timedelta(minutes=(i + 1) * minutes), people,
                  {"happy": happy, "neutral": people - happy}, round(happy / people, 3))


def mood(store: str, kiosk: str, seq: int, i: int) -> contract.MoodDocument:
    """The typed mood.v1 document of window i (for tests that publish without the kiosk publisher)."""
    return contract.MoodDocument.from_window(store, kiosk, seq, window(i), {"happy": 1}, "test-1")


def mood_document(store: str, kiosk: str, seq: int, i: int) -> dict[str, Any]:
    """The same document as JSON (for tests that edit it into something hostile)."""
    return mood(store, kiosk, seq, i).as_json()
