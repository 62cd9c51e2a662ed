"""A system clock set back (NTP, a wrong RTC at boot) must not merge an hour of shoppers into one window; a
clock set forward starts the windows at the new time. The frame times are given, as a camera stamps them."""
from __future__ import annotations

from vision.aggregate import CLOCK_STEP_TOLERANCE_S, MoodAggregator

START = 1_800_000_000.0  # a minute boundary


def _windows(step_at_s: int, step_s: float, seconds: int = 3 * 3600) -> tuple[list[tuple[float, float, int]], int]:
    """One new person a second; the clock moves by `step_s` (negative: back) after `step_at_s` seconds."""
    aggregator = MoodAggregator(60.0, 1, ("happy", "neutral"))
    closed = []
    for second in range(seconds):
        ts = START + second + (step_s if second >= step_at_s else 0.0)
        for window in aggregator.observe(ts, {second: "happy"}):
            closed.append((window.start.timestamp(), window.end.timestamp(), window.people))
    return closed, aggregator.clock_step_frames


def test_a_clock_set_back_an_hour_keeps_every_window_a_minute_of_people() -> None:
    closed, skipped = _windows(3600 + 30, -3600.0)
    # Before: the open window took every frame of the hour after the step: 3,630 people in one "60 s" window.
    # Now: a minute of people each, plus the few seconds of the late-frame margin that the clock passes twice.
    assert max(people for _, _, people in closed) <= 60 + CLOCK_STEP_TOLERANCE_S + 1
    assert all(end - start == 60.0 for start, end, _ in closed)
    assert all(a[1] <= b[0] for a, b in zip(closed, closed[1:]))  # never back in time, never overlapping
    assert 3600 - CLOCK_STEP_TOLERANCE_S - 1 <= skipped <= 3600  # stamped before the newest frame: not counted
    assert closed[-1][0] == START + 2 * 3600 - 120  # windows run on with the clock (the last one still open)


def test_late_frames_and_a_clock_set_forward_are_not_a_step_back() -> None:
    aggregator = MoodAggregator(60.0, 1, ("happy",))
    assert aggregator.observe(START + 59.0, {1: "happy"}) == []
    assert len(aggregator.observe(START + 61.0, {2: "happy"})) == 1  # closes [0, 60)
    assert aggregator.observe(START + 58.0, {3: "happy"}) == []  # processed late: joins the open window
    assert aggregator.clock_step_frames == 0
    closed, skipped = _windows(600, +3600.0, seconds=1200)
    assert skipped == 0 and closed[10][0] == START + 3600 + 600  # the first window after the jump starts there
