"""Mood windows for tests: the attributes of vision.types.MoodWindow, built deterministically."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Mapping

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Window:
    """Same fields as vision.types.MoodWindow (telemetry accepts any object with them)."""

    start: datetime
    end: datetime
    people: int
    counts: Mapping[str, int]
    mood_index: float
    merged_windows: int = 1


def window(i: int, minutes: float = 1.0, t0: datetime = T0) -> Window:
    """The i-th one-minute window after t0, with varying but valid aggregates."""
    people = 3 + i % 5
    happy = i % (people + 1)
    return Window(t0 + timedelta(minutes=i * minutes), t0 + timedelta(minutes=(i + 1) * minutes), people,
                  {"happy": happy, "neutral": people - happy}, round(happy / people, 3))


def mood_document(store: str, kiosk: str, seq: int, i: int) -> dict:
    """A raw mood.v1 document (for tests that publish without the kiosk publisher)."""
    w = window(i)
    return {
        "schema_version": "mood.v1", "store": store, "kiosk": kiosk, "seq": seq,
        "window_start": w.start.isoformat().replace("+00:00", "Z"), "window_end": w.end.isoformat().replace("+00:00", "Z"),
        "people": w.people, "counts": dict(w.counts), "mood_index": w.mood_index,
        "feedback": {"happy": 1, "neutral": 0, "unhappy": 0}, "model_version": "test-1", "merged_windows": 1,
    }
