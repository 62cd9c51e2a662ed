"""Long-dwell filter: a face that stays in view longer than `max_dwell_s` is staff (or a worker at the kiosk),
not a shopper; it is dropped from the mood windows, including what it already added to the open ones."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(slots=True)
class DwellFilter:
    """Remembers the tracks found dwelling too long; `apply` removes them from a frame's people."""

    max_dwell_s: float | None
    dropped: set[int] = field(default_factory=set)

    def apply(
        self, people: Mapping[int, str | None], first_seen: Mapping[int, float], now: float
    ) -> tuple[dict[int, str | None], frozenset[int]]:
        """(people without long dwellers, track ids found too long in view at this frame for the first time)."""
        if self.max_dwell_s is None:
            return dict(people), frozenset()
        new = frozenset(
            track_id for track_id, since in first_seen.items()
            if now - since > self.max_dwell_s and track_id not in self.dropped
        )
        self.dropped = {i for i in self.dropped if i in first_seen} | new  # ids are never reused
        return {k: v for k, v in people.items() if k not in self.dropped}, new
