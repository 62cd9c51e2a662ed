"""Opening hours: the camera analyses frames only while the store is open (a closed store has staff, not shoppers).

One entry per span, e.g. ``"mon-fri 08:00-20:00"``, ``"sat 09:00-14:00"``, ``"mon,wed 07:30-12:00"``;
``24:00`` ends a day. Times are local to the configured time zone (IANA name, e.g. ``Europe/Berlin``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vision.errors import VisionError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ENTRY = re.compile(r"^\s*([a-z,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class OpeningHoursError(VisionError):
    """An opening-hours entry cannot be read, or two entries overlap."""


@dataclass(frozen=True, slots=True)
class OpeningSpan:
    """One day's open span in minutes after local midnight, `entry` = the 1-based config entry it came from."""

    day: int  # 0 = Monday
    start_min: int
    end_min: int
    entry: int


def _days(text: str, where: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        ends = part.split("-")
        if len(ends) > 2 or not all(end in DAYS for end in ends):
            raise OpeningHoursError(f"{where}: {part!r} is not a day or day range (use {', '.join(DAYS)}, e.g. mon-fri)")
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        if last < first:
            raise OpeningHoursError(f"{where}: day range {part!r} runs backwards (write e.g. mon-fri)")
        days.extend(range(first, last + 1))
    return days


def _minutes(hours: str, minutes: str, where: str) -> int:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and m):
        raise OpeningHoursError(f"{where}: {hours}:{minutes} is not a time of day (00:00 to 24:00)")
    return h * 60 + m


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """The week's open spans in one time zone; empty `spans` means no limit (always open)."""

    spans: tuple[OpeningSpan, ...] = ()
    timezone: str = "UTC"

    @classmethod
    def parse(cls, entries: Sequence[str], timezone: str, key: str = "opening_hours") -> OpeningHours:
        """Decode the config entries; raises OpeningHoursError naming `key`, the entry and the problem."""
        prefix = key
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise OpeningHoursError(f"{key or 'timezone'}: unknown time zone {timezone!r} (an IANA name like Europe/Berlin)") from exc
        spans: list[OpeningSpan] = []
        for index, entry in enumerate(entries, 1):
            where = f"{prefix}[{index}] {entry!r}" if key else f"entry {index} {entry!r}"
            match = _ENTRY.match(str(entry).lower())
            if match is None:
                raise OpeningHoursError(f"{where}: expected 'DAYS HH:MM-HH:MM', e.g. 'mon-fri 08:00-20:00'")
            days = _days(match.group(1), where)
            start = _minutes(match.group(2), match.group(3), where)
            end = _minutes(match.group(4), match.group(5), where)
            if end <= start:
                raise OpeningHoursError(f"{where}: closes at or before it opens (split a span past midnight at 24:00)")
            for day in days:
                for other in spans:
                    if other.day == day and start < other.end_min and other.start_min < end:
                        raise OpeningHoursError(
                            f"{where}: overlaps entry {other.entry} {entries[other.entry - 1]!r} on {DAYS[day]}"
                        )
                spans.append(OpeningSpan(day, start, end, index))
        return cls(tuple(spans), timezone)

    def is_open(self, timestamp: float) -> bool:
        """Whether the store is open at `timestamp` (epoch seconds); always True without spans."""
        if not self.spans:
            return True
        local = datetime.fromtimestamp(timestamp, ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        return any(span.day == day and span.start_min <= minute < span.end_min for span in self.spans)
