"""The shopper's "without mood reading" pause: from the press, through their visit, until a set time after it.

Plain Python, driven by the session with its clock. A visit is the time the session is away from the attract
screen; pressing on the attract screen starts the pause at once and it ends `after_s` later unless a visit
follows (a card, "offers without a card"), which keeps it on until `after_s` after that visit ends.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class MoodPause:
    after_s: float
    active: bool = False
    until: float | None = None  # clock time the pause ends; None while the visit is still going on

    def start(self, now: float, in_visit: bool) -> None:
        """The shopper pressed "without mood reading"."""
        self.active = True
        self.until = None if in_visit else now + self.after_s

    def visit_ended(self, now: float) -> None:
        """The session is back on the attract screen: the pause runs out `after_s` from now."""
        if self.active and self.until is None:
            self.until = now + self.after_s

    def visit_goes_on(self) -> None:
        """The session left the attract screen (same or next shopper): keep the pause on for this visit."""
        if self.active:
            self.until = None

    def expire(self, now: float) -> bool:
        """End the pause when its time is up; True when it ended now."""
        if self.active and self.until is not None and now >= self.until:
            self.active = False
            self.until = None
            return True
        return False
