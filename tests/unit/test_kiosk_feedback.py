"""Feedback presses leave the kiosk only k or more at a time, like people in a mood window."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kiosk.services.feedback import FeedbackCounter, FeedbackOnlyWindows

ZERO = {"happy": 0, "neutral": 0, "unhappy": 0}


def test_presses_below_k_wait_for_a_later_window_and_then_go_out_together() -> None:
    counter = FeedbackCounter(3)
    counter.add("unhappy")
    counter.add("happy")
    assert counter.take() == ZERO  # two presses: one of them could be told apart by the minute
    assert counter.pending() == {"happy": 1, "neutral": 0, "unhappy": 1}
    counter.add("unhappy")
    assert counter.take() == {"happy": 1, "neutral": 0, "unhappy": 2}
    assert counter.take() == ZERO and counter.pending() == ZERO


def test_k_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FeedbackCounter(0)


def test_feedback_only_windows_hold_a_lonely_press() -> None:
    start = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
    counter = FeedbackCounter(2)
    windows = FeedbackOnlyWindows(counter, start)
    counter.add("neutral")
    assert windows.close(start + timedelta(minutes=1)) is None
    counter.add("happy")
    closed = windows.close(start + timedelta(minutes=2))
    assert closed is not None
    window, counts = closed
    assert window.people == 0 and counts == {"happy": 1, "neutral": 1, "unhappy": 0}
    assert window.start == start + timedelta(minutes=1)  # back-to-back windows on the clock
