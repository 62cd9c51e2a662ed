"""The per-kiosk ordering rule a new window must keep against the windows already stored.

Several collector processes share the fleet, so one kiosk's windows can reach the database out of order;
the rule therefore compares a window with its stored neighbours in time instead of with "the last one seen":
seq order and time order must agree and windows must not overlap. A late window that fills a gap is
accepted; an exact repeat is a duplicate; anything else that contradicts what is stored is rejected."""
from __future__ import annotations

import dataclasses
import enum

from central.records import WindowRecord


class WindowOutcome(enum.Enum):
    """What storing one window did."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # the same window again (a QoS 1 redelivery): a no-op
    REPLAY = "replay"  # same start or seq with other content, or a seq that goes backwards in time
    OVERLAP = "overlap"  # overlaps a stored window of the same kiosk
    PRUNED = "pruned"  # starts where the kiosk's raw windows were pruned: it cannot be judged, and may be counted


def same_window(a: WindowRecord, b: WindowRecord) -> bool:
    """Equal in everything the kiosk sent (the receive time differs on a redelivery)."""
    return dataclasses.replace(a, received_at=0.0, counts=dict(a.counts)) == \
        dataclasses.replace(b, received_at=0.0, counts=dict(b.counts))


def judge(new: WindowRecord, before: WindowRecord | None, after: WindowRecord | None,
          pruned_until: float | None = None) -> WindowOutcome:
    """`before`: the stored window of the kiosk with the latest start at or before new.start; `after`: the
    one with the earliest start after it (stored windows do not overlap, so these two decide). `pruned_until`:
    the end of the kiosk's latest pruned raw window; before it the neighbours are gone, and a window there
    (a redelivery after --raw-days, or a replay) is already in its hour and day, so it is refused."""
    if before is not None and before.start == new.start:
        return WindowOutcome.DUPLICATE if same_window(before, new) else WindowOutcome.REPLAY
    if pruned_until is not None and new.start < pruned_until:
        return WindowOutcome.PRUNED
    if (before is not None and before.end > new.start) or (after is not None and after.start < new.end):
        return WindowOutcome.OVERLAP
    if (before is not None and before.seq >= new.seq) or (after is not None and after.seq <= new.seq):
        return WindowOutcome.REPLAY
    return WindowOutcome.STORED
