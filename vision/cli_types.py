"""argparse types for numbers from the command line: finite and in range, or one line and exit 2.

`float("nan")`, `float("inf")` and `1e300` are floats too: as `--duration` they raised from deep inside Qt's
timer (a traceback, exit 1), and a negative one quit at once without a word."""
from __future__ import annotations

from typing import Callable

from contract.cli_values import number_between

MAX_SECONDS = 7 * 24 * 3600.0  # a week: beyond it Qt's millisecond timers overflow (2^31 ms is 24.8 days)


def seconds_between(low: float, high: float) -> Callable[[str], float]:
    """A duration in seconds, `low` < value <= `high`, for argparse's `type=`."""
    return number_between(low, high, "seconds", above_low=True)


seconds = seconds_between(0.0, MAX_SECONDS)
