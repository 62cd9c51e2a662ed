"""Tick arithmetic that survives the board's ms-counter wrap-around (MicroPython `time.ticks_*` semantics)."""


def plain_diff(new, old):
    """Default for CPython tests whose clock never wraps; the board passes `time.ticks_diff`."""
    return new - old
