"""Calling code that is not ours (a listener, a consumer): its error is logged and the caller carries on.

The one helper for "call a callback, log its error" that the vision threads and the kiosk's services share:
a bug in the screen or a counter must never stop the camera, telemetry, a card reader or the state machine."""
from __future__ import annotations

import logging
from typing import Callable, TypeVar

T = TypeVar("T")


def call_safely(callback: Callable[[T], object] | None, value: T, log: logging.Logger, what: str) -> bool:
    """Call `callback(value)` unless it is None; an exception it raises is logged on `log` as "`what` failed"
    with its traceback and swallowed. Returns False only when the callback raised."""
    if callback is None:
        return True
    try:
        callback(value)
    except Exception:  # the barrier: whatever the callback does wrong stays with the callback
        log.exception("%s failed (%s)", what, getattr(callback, "__qualname__", None) or repr(callback))
        return False
    return True
