"""The per-kiosk ordering rule: seq order and time order agree, no overlaps, exact repeats are duplicates."""
from __future__ import annotations

import dataclasses

import pytest

from central.records import WindowRecord
from central.window_order import WindowOutcome, judge


def _w(seq: int, start: float, end: float | None = None, people: int = 5) -> WindowRecord:
    return WindowRecord("s1", "k1", seq, start, start + 60 if end is None else end, people, {"happy": 2}, 0.4,
                        0, 0, 0, "m", 1, 1000.0)


BEFORE, AFTER = _w(5, 300), _w(9, 900)


@pytest.mark.parametrize(("new", "outcome"), [
    (_w(6, 500), WindowOutcome.STORED),  # a gap filled late, in order
    (dataclasses.replace(BEFORE, received_at=5.0), WindowOutcome.DUPLICATE),  # redelivery
    (_w(5, 300, people=6), WindowOutcome.REPLAY),  # same start, other content
    (_w(5, 500), WindowOutcome.REPLAY),  # reused seq at another time
    (_w(4, 500), WindowOutcome.REPLAY),  # older seq, later time
    (_w(12, 500), WindowOutcome.REPLAY),  # newer seq than the next window, earlier time
    (_w(6, 330), WindowOutcome.OVERLAP),  # starts inside the window before
    (_w(6, 870), WindowOutcome.OVERLAP),  # runs into the window after
])
def test_judge(new: WindowRecord, outcome: WindowOutcome) -> None:
    assert judge(new, BEFORE if new.start >= BEFORE.start else None, AFTER) is outcome


def test_first_window_of_a_kiosk_is_stored() -> None:
    assert judge(_w(1, 0), None, None) is WindowOutcome.STORED
