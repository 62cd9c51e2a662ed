"""Plain values passed between the collector, the storage backends and the web API."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class WindowRecord:
    """One accepted mood window (times as UTC epoch seconds)."""

    store: str
    kiosk: str
    seq: int
    start: float
    end: float
    people: int
    counts: Mapping[str, int]
    mood_index: float
    feedback_happy: int
    feedback_neutral: int
    feedback_unhappy: int
    model_version: str
    merged_windows: int
    received_at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "store": self.store, "kiosk": self.kiosk, "seq": self.seq, "start": self.start, "end": self.end,
            "people": self.people, "counts": dict(self.counts), "mood_index": self.mood_index,
            "feedback": {"happy": self.feedback_happy, "neutral": self.feedback_neutral, "unhappy": self.feedback_unhappy},
            "model_version": self.model_version, "merged_windows": self.merged_windows,
        }


@dataclass(frozen=True)
class KioskState:
    """What the dashboard shows per kiosk: online flag, last health, and its latest window (if any)."""

    store: str
    kiosk: str
    online: bool | None
    status_at: float | None
    health: Mapping[str, Any] | None
    health_at: float | None
    latest: WindowRecord | None

    def as_json(self) -> dict[str, Any]:
        return {
            "store": self.store, "kiosk": self.kiosk, "online": self.online, "status_at": self.status_at,
            "health": dict(self.health) if self.health else None, "health_at": self.health_at,
            "latest": self.latest.as_json() if self.latest else None,
        }


@dataclass(frozen=True)
class Bucket:
    """A slice of a store's day: people-weighted mood index, people and feedback presses."""

    start: float
    people: int
    mood_index: float | None
    windows: int
    feedback: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreDay:
    """One store's day for the chart and the expression mix."""

    store: str
    day_start: float
    bucket_s: int
    buckets: tuple[Bucket, ...]
    counts: Mapping[str, int]
    feedback: Mapping[str, int]
    people: int
    windows: int


@dataclass(frozen=True)
class DeadLetter:
    """A message the collector acknowledged without storing it as data (a row the database refused, or
    a message the collector failed on), kept for the operator with its reason."""

    received_at: float
    topic: str
    payload: bytes
    reason: str
    detail: str
