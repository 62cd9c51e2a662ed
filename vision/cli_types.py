"""argparse types for numbers from the command line: finite and in range, or one line and exit 2.

`float("nan")`, `float("inf")` and `1e300` are floats too: as `--duration` they raised from deep inside Qt's
timer (a traceback, exit 1), and a negative one quit at once without a word."""
from __future__ import annotations

import argparse
import math
from typing import Callable

MAX_SECONDS = 7 * 24 * 3600.0  # a week: beyond it Qt's millisecond timers overflow (2^31 ms is 24.8 days)


def seconds_between(low: float, high: float) -> Callable[[str], float]:
    """A duration in seconds, `low` < value <= `high`, for argparse's `type=`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value) or not low < value <= high:
            raise argparse.ArgumentTypeError(f"must be more than {low:g} and at most {high:g} seconds (got {text!r})")
        return value

    return parse


seconds = seconds_between(0.0, MAX_SECONDS)
