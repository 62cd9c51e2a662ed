"""Track faces across frames (IoU, centre-distance fallback) and smooth each track's expression over time."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from vision.faces import Detection
from vision.types import Box, Face


@dataclass(slots=True)
class _Track:
    """Mutable state of one person in view (internal: the public API sees `Face` values)."""

    track_id: int
    box: Box
    first_seen: float
    last_seen: float
    hits: int = 1
    probs: np.ndarray | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """Result of one frame: the faces (one per detection) and the confirmed people in view with their label."""

    faces: tuple[Face, ...]
    people: dict[int, str | None] = field(default_factory=dict)


class Tracker:
    """Greedy IoU tracker, tolerant of missed frames for `max_missed_s`, with a time-based EMA per track.

    A detection joins the track it overlaps most (IoU >= `iou`); failing that, the nearest track whose box
    centre lies within `center_ratio` box sides (fast head movement at low fps). A track counts as a person
    after `min_hits` detections. The EMA weight of a new observation is ``1 - exp(-dt / tau)``, so smoothing
    is the same at 5 or 30 fps. A smoothed top probability below `threshold` leaves the label None (uncertain).
    """

    def __init__(
        self,
        classes: Sequence[str] | None,
        iou: float = 0.3,
        center_ratio: float = 0.5,
        max_missed_s: float = 1.0,
        min_hits: int = 3,
        tau_s: float = 0.5,
        threshold: float = 0.5,
    ) -> None:
        self._classes = tuple(classes) if classes else None
        self._iou = iou
        self._center_ratio = center_ratio
        self._max_missed_s = max_missed_s
        self._min_hits = min_hits
        self._tau = tau_s
        self._threshold = threshold
        self._tracks: list[_Track] = []
        self._next_id = 1

    def first_seen(self) -> dict[int, float]:
        """When each live track was first seen (track id -> timestamp): how long someone has been in view."""
        return {t.track_id: t.first_seen for t in self._tracks}

    def reset(self) -> None:
        """Forget every live track (analysis paused): a face seen again afterwards is a new track."""
        self._tracks = []

    def _match(self, detections: Sequence[Detection]) -> dict[int, int]:
        """Detection index -> track index, greedily best pair first."""
        pairs: list[tuple[float, int, int]] = []
        for di, det in enumerate(detections):
            dcx, dcy = det.box.center
            for ti, track in enumerate(self._tracks):
                overlap = det.box.iou(track.box)
                if overlap >= self._iou:
                    pairs.append((1.0 + overlap, di, ti))
                    continue
                tcx, tcy = track.box.center
                side = max(track.box.w, track.box.h, 1)
                dist = math.hypot(dcx - tcx, dcy - tcy) / side
                if dist <= self._center_ratio:
                    pairs.append((1.0 - dist, di, ti))
        pairs.sort(reverse=True)
        matched: dict[int, int] = {}
        used: set[int] = set()
        for _, di, ti in pairs:
            if di not in matched and ti not in used:
                matched[di] = ti
                used.add(ti)
        return matched

    def _smooth(self, track: _Track, probs: np.ndarray, now: float, first: bool) -> None:
        if first or track.probs is None or self._tau <= 0:
            track.probs = probs.astype(np.float32, copy=True)
        else:
            dt = max(now - track.last_seen, 0.0)
            alpha = 1.0 - math.exp(-dt / self._tau) if dt > 0 else 0.0
            track.probs = (1.0 - alpha) * track.probs + alpha * probs
        assert self._classes is not None
        top = int(np.argmax(track.probs))
        track.label = self._classes[top] if float(track.probs[top]) >= self._threshold else None

    def update(self, detections: Sequence[Detection], probs: np.ndarray | None, now: float) -> TrackUpdate:
        """Feed one frame's detections (and their probabilities ``(N, C)`` or None) taken at time `now`."""
        self._tracks = [t for t in self._tracks if now - t.last_seen <= self._max_missed_s]
        matched = self._match(detections)
        faces: list[Face] = []
        for di, det in enumerate(detections):
            ti = matched.get(di)
            if ti is None:
                track = _Track(self._next_id, det.box, now, now, hits=0)
                self._next_id += 1
                self._tracks.append(track)
                first = True
            else:
                track = self._tracks[ti]
                first = False
            if probs is not None and self._classes is not None:
                self._smooth(track, probs[di], now, first)
            track.box = det.box
            track.last_seen = now
            track.hits += 1
            confirmed = track.hits >= self._min_hits
            smoothed = None
            if track.probs is not None and self._classes is not None:
                smoothed = {name: float(p) for name, p in zip(self._classes, track.probs)}
            faces.append(Face(det.box, det.score, smoothed, track.track_id, track.label if confirmed else None))
        people = {t.track_id: t.label for t in self._tracks if t.hits >= self._min_hits and t.last_seen == now}
        return TrackUpdate(tuple(faces), people)
