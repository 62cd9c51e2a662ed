"""A system clock set back (NTP, a wrong RTC at boot) must not merge many minutes of shoppers into one window;
a clock set forward starts the windows at the new time; a clock that was far ahead and is corrected does not
stop the windows until real time catches up. The frame times are given, as a camera stamps them."""
from __future__ import annotations

from vision.aggregate import CLOCK_RESET_S, CLOCK_STEP_TOLERANCE_S, MoodAggregator

START = 1_800_000_000.0  # a minute boundary


def _windows(step_at_s: int, step_s: float, seconds: int = 3 * 3600,
             aggregator: MoodAggregator | None = None) -> tuple[list[tuple[float, float, int]], int]:
    """One new person a second; the clock moves by `step_s` (negative: back) after `step_at_s` seconds."""
    aggregator = aggregator or MoodAggregator(60.0, 1, ("happy", "neutral"))
    closed = []
    for second in range(seconds):
        ts = START + second + (step_s if second >= step_at_s else 0.0)
        for window in aggregator.observe(ts, {second: "happy"}):
            closed.append((window.start.timestamp(), window.end.timestamp(), window.people))
    return closed, aggregator.clock_step_frames


def test_a_clock_set_back_ten_minutes_keeps_every_window_a_minute_of_people() -> None:
    closed, skipped = _windows(3600 + 30, -600.0)
    # Before: the open window took every frame of the minutes after the step: 630 people in one "60 s" window.
    # Now: a minute of people each, plus the few seconds of the late-frame margin that the clock passes twice.
    assert max(people for _, _, people in closed) <= 60 + CLOCK_STEP_TOLERANCE_S + 1
    assert all(end - start == 60.0 for start, end, _ in closed)
    assert all(a[1] <= b[0] for a, b in zip(closed, closed[1:]))  # never back in time, never overlapping
    assert 600 - CLOCK_STEP_TOLERANCE_S - 1 <= skipped <= 600  # stamped before the newest frame: not counted
    assert closed[-1][0] == START + 3 * 3600 - 600 - 120  # windows run on with the clock (the last one open)


def test_a_clock_an_hour_ahead_then_corrected_goes_on_at_once_from_the_corrected_time() -> None:
    """Before: after a one-hour correction nothing was counted for an hour (and central had refused the windows
    stamped an hour ahead as too far in the future anyway). Now the windows start again at the corrected time."""
    aggregator = MoodAggregator(60.0, 1, ("happy", "neutral"))
    step = CLOCK_RESET_S + 2700.0  # an hour
    closed, skipped = _windows(3600 + 30, -step, aggregator=aggregator)
    assert skipped == 0 and aggregator.clock_resets == 1
    assert max(people for _, _, people in closed) <= 60 and all(end - start == 60.0 for start, end, _ in closed)
    first_after = next(i for i, window in enumerate(closed) if i and window[0] < closed[i - 1][0])
    assert closed[first_after][0] == START + 3600 - step  # the minute of the first corrected frame (30 s in)
    assert closed[first_after][2] == 30  # the people of that frame's minute, none from before the correction
    assert all(a[1] <= b[0] for a, b in zip(closed[first_after:], closed[first_after + 1:]))
    assert len(closed) - first_after == (3 * 3600 - 3600) // 60 - 1  # a window every minute (the last one open)


def test_late_frames_and_a_clock_set_forward_are_not_a_step_back() -> None:
    aggregator = MoodAggregator(60.0, 1, ("happy",))
    assert aggregator.observe(START + 59.0, {1: "happy"}) == []
    assert len(aggregator.observe(START + 61.0, {2: "happy"})) == 1  # closes [0, 60)
    assert aggregator.observe(START + 58.0, {3: "happy"}) == []  # processed late: joins the open window
    assert aggregator.clock_step_frames == 0
    closed, skipped = _windows(600, +3600.0, seconds=1200)
    assert skipped == 0 and closed[10][0] == START + 3600 + 600  # the first window after the jump starts there
