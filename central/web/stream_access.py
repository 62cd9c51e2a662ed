"""Whether a live stream's credential still gives the access it had when the stream opened.

A server-sent event stream stays open for hours; checking the user only at connect let a manager who was
removed, moved to other stores, given a new password or whose token was revoked keep receiving live data."""
from __future__ import annotations

import time
from typing import Callable

from fastapi import HTTPException

from central.auth import User


class StillAllowed:
    """Call before sending: True while `resolve()` (the app's authentication of the stream's request) still
    yields the same user with the same stores. Looked up at most every `every_s`; once False, always False."""

    def __init__(self, resolve: Callable[[], User], user: User, every_s: float = 0.25) -> None:
        self._resolve = resolve
        self._user = user
        self._every_s = every_s
        self._checked = time.monotonic()
        self._allowed = True

    def __call__(self) -> bool:
        now = time.monotonic()
        if self._allowed and now - self._checked >= self._every_s:
            self._checked = now
            try:
                self._allowed = self._resolve() == self._user
            except HTTPException:
                self._allowed = False
        return self._allowed
