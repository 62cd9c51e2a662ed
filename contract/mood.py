"""The mood.v1 document as one typed value: built from a vision window by the kiosk, encoded once, and
decoded by the collector totally (any bytes become a MoodDocument or a ContractError, nothing else)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, Mapping, Protocol

from contract.errors import ContractError
from contract.payloads import MOOD_SCHEMA_VERSION, encode, format_utc, load_json, parse_utc, validate_mood
from contract.topics import TopicParts

# The three feedback faces of the kiosk, in the order the screen shows them (also the mood.v1 feedback keys).
FEEDBACK_FACES = ("happy", "neutral", "unhappy")


class WindowLike(Protocol):
    """What a document is built from: vision.types.MoodWindow (any object with these attributes will do)."""

    start: datetime
    end: datetime
    people: int
    counts: Mapping[str, int]
    mood_index: float
    merged_windows: int


@dataclass(frozen=True)
class Feedback:
    """Feedback button presses during one window (never linked to a person)."""

    happy: int = 0
    neutral: int = 0
    unhappy: int = 0

    @classmethod
    def from_counts(cls, counts: Mapping[str, int]) -> "Feedback":
        unknown = set(counts) - set(FEEDBACK_FACES)
        if unknown:
            raise ContractError("schema", f"feedback faces {sorted(unknown)} are not {', '.join(FEEDBACK_FACES)}")
        return cls(*(int(counts.get(face, 0)) for face in FEEDBACK_FACES))

    def as_json(self) -> dict[str, int]:
        return {"happy": self.happy, "neutral": self.neutral, "unhappy": self.unhappy}


@dataclass(frozen=True)
class TimeBounds:
    """The plausible range of window times around the receive time (a collector setting).

    `max_age` is generous on purpose: a kiosk that was offline for months still delivers its spool."""

    max_age: timedelta = timedelta(days=366)
    max_future: timedelta = timedelta(minutes=15)  # kiosk clock ahead of the collector's
    max_length: timedelta = timedelta(days=7)  # one window, merged windows included

    def check(self, start: datetime, end: datetime, received_at: datetime) -> None:
        if start < received_at - self.max_age:
            raise ContractError("time", f"window_start {format_utc(start)} is more than {self.max_age.days} days old")
        if end > received_at + self.max_future:
            raise ContractError("time", f"window_end {format_utc(end)} is in the future (received "
                                        f"{format_utc(received_at)})")
        if end - start > self.max_length:
            raise ContractError("time", f"window of {end - start} is longer than {self.max_length}")


@dataclass(frozen=True)
class MoodDocument:
    """One closed, k-anonymous window of one kiosk: the mood.v1 payload as a value (times aware UTC)."""

    store: str
    kiosk: str
    seq: int
    window_start: datetime
    window_end: datetime
    people: int
    counts: Mapping[str, int]
    mood_index: float
    feedback: Feedback
    model_version: str
    merged_windows: int = 1
    schema_version: str = field(default=MOOD_SCHEMA_VERSION, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))

    @classmethod
    def from_window(cls, store: str, kiosk: str, seq: int, window: WindowLike, feedback: Mapping[str, int],
                    model_version: str) -> "MoodDocument":
        """The document of a closed vision window with the spool-assigned sequence number."""
        return cls(store, kiosk, int(seq), window.start, window.end, int(window.people),
                   {str(k): int(v) for k, v in window.counts.items()}, round(float(window.mood_index), 4),
                   Feedback.from_counts(feedback), str(model_version), int(window.merged_windows))

    def as_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version, "store": self.store, "kiosk": self.kiosk, "seq": self.seq,
            "window_start": format_utc(self.window_start), "window_end": format_utc(self.window_end),
            "people": self.people, "counts": dict(self.counts), "mood_index": self.mood_index,
            "feedback": self.feedback.as_json(), "model_version": self.model_version,
            "merged_windows": self.merged_windows,
        }

    def encode(self) -> bytes:
        """The payload to publish; a document the receivers would reject raises ContractError here instead."""
        validate_mood(self.as_json())
        return encode(self.as_json())

    @classmethod
    def decode(cls, payload: Any, topic: TopicParts | None = None, received_at: datetime | None = None,
               bounds: TimeBounds | None = None) -> "MoodDocument":
        """Any received payload as a document, or ContractError with a reason; never another exception.

        With `received_at`, the window must also lie within `bounds` of it (ContractError "time")."""
        doc = validate_mood(load_json(payload), topic)
        start = parse_utc(doc["window_start"], "window_start")
        end = parse_utc(doc["window_end"], "window_end")
        if received_at is not None:
            (bounds or TimeBounds()).check(start, end, received_at.astimezone(timezone.utc))
        mood_index = float(doc["mood_index"])
        if not math.isfinite(mood_index):  # load_json refuses NaN already; kept for documents built in code
            raise ContractError("schema", "mood_index is not finite")
        fb = doc["feedback"]
        return cls(doc["store"], doc["kiosk"], doc["seq"], start, end, doc["people"], doc["counts"], mood_index,
                   Feedback(fb["happy"], fb["neutral"], fb["unhappy"]), doc["model_version"], doc["merged_windows"])
