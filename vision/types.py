"""Plain values vision hands to the kiosk: boxes, faces, frame results, mood windows, source events."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Mapping


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box in frame pixels: top-left corner `x, y`, width `w`, height `h`."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return max(self.w, 0) * max(self.h, 0)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2.0, self.y + self.h / 2.0)

    def iou(self, other: Box) -> float:
        """Intersection over union with `other`, 0.0 when they do not touch."""
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Face:
    """One face in one frame.

    `probs` are the track's smoothed expression probabilities (class name -> probability, summing to 1) or
    None when no expression model ran; `label` is the smoothed expression once it passes the confidence
    threshold, None while uncertain. `track_id` is stable while the same person stays in view.
    """

    box: Box
    score: float
    probs: Mapping[str, float] | None = None
    track_id: int | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What vision tells the kiosk about one frame; never the pixels themselves.

    `timestamp` is seconds since the epoch (UTC) of the frame's capture (for a video file: the time the
    file was opened plus the frame's position in it). `timings` are milliseconds per stage.
    """

    timestamp: float
    faces: tuple[Face, ...]
    qr_text: str | None = None
    timings: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MoodWindow:
    """A closed, k-anonymous time window: distinct people, people per expression, mood index.

    `counts` has one entry per model class plus ``uncertain`` (people whose expression never passed the
    confidence threshold); they sum to `people`. `mood_index` is in [-1, 1] (see `vision.aggregate`).
    `merged_windows` is how many base windows were merged to reach k people (1 = not merged).
    """

    start: datetime
    end: datetime
    people: int
    counts: Mapping[str, int]
    mood_index: float
    merged_windows: int = 1


SourceEventKind = Literal["down", "up", "ended"]


@dataclass(frozen=True, slots=True)
class SourceEvent:
    """A change of the frame source: ``down`` (failed or lost, will retry), ``up`` (frames flow), ``ended``."""

    kind: SourceEventKind
    source: str
    message: str
