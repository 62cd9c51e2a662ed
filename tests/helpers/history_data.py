"""Deterministic stored windows for the history and rollup tests."""
from __future__ import annotations

from datetime import datetime, timedelta

from central.records import WindowRecord


def records(store: str, kiosk: str, start: datetime, minutes: int, seed: int = 0) -> list[WindowRecord]:
    """Minute windows with varying people, mood and feedback (deterministic)."""
    out = []
    for i in range(minutes):
        t = start + timedelta(minutes=i)
        people = (i * 7 + seed) % 6
        happy = (i + seed) % (people + 1)
        counts = {"happy": happy, "neutral": people - happy} if people else {}
        out.append(WindowRecord(store, kiosk, i + 1, t.timestamp(), t.timestamp() + 60, people, counts,
                                round(happy / people, 3) if people else 0.0, int(i % 3 == 0), int(i % 5 == 0), int(i % 7 == 0),
                                "test-1", 1, t.timestamp()))
    return out
