"""History of stores over days, weeks and months, heat maps and store comparisons, read from the rollups.

Hourly rollups (plus the few raw windows not rolled up yet) are cut into the viewer's local days and hours
here, in Python with zoneinfo, so SQLite and PostgreSQL give the same answer and any whole-hour time zone
works. Days past the hourly retention come from daily rollups, which are UTC days (marked `resolution`).
"""
from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from central.records import Bucket, StoreDay
from central.rollup import DAY, HOUR, RetentionSettings, cutoffs
from central.store import _SqlStore

MAX_RANGE_DAYS = 366
# Where camera and shoppers disagree: enough presses to mean something, and the feedback score
# ((happy - unhappy) / presses, -1..+1) at least half the scale away from the camera's mood index.
DISAGREE_MIN_PRESSES = 3
DISAGREE_GAP = 1.0


class HistoryError(ValueError):
    """A request that cannot be answered as asked (reversed or too long range, unknown store)."""


class Period(str, enum.Enum):
    """The calendar periods the dashboard pages through."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class Totals:
    """Sums over a slot of time. `people` counts people seen per window, summed over windows (a person who
    stays three minutes is counted in three 60 s windows): it measures presence, not footfall."""

    windows: int = 0
    people: int = 0
    people_max: int = 0
    mood_weighted: float = 0.0
    happy: int = 0
    neutral: int = 0
    unhappy: int = 0

    def __add__(self, other: "Totals") -> "Totals":
        return Totals(self.windows + other.windows, self.people + other.people, max(self.people_max, other.people_max),
                      self.mood_weighted + other.mood_weighted, self.happy + other.happy,
                      self.neutral + other.neutral, self.unhappy + other.unhappy)

    @property
    def mood_index(self) -> float | None:
        """People-weighted camera mood, -1..+1; None without people."""
        return self.mood_weighted / self.people if self.people else None

    @property
    def presses(self) -> int:
        return self.happy + self.neutral + self.unhappy

    @property
    def feedback_score(self) -> float | None:
        """The shoppers' own verdict on the camera's scale: (happy - unhappy) / presses."""
        return (self.happy - self.unhappy) / self.presses if self.presses else None

    @property
    def disagree(self) -> bool:
        """True where feedback and camera mood tell different stories (see DISAGREE_GAP)."""
        mood, score = self.mood_index, self.feedback_score
        return (mood is not None and score is not None and self.presses >= DISAGREE_MIN_PRESSES
                and abs(mood - score) >= DISAGREE_GAP)

    def as_json(self) -> dict[str, Any]:
        presses = self.presses
        return {
            "windows": self.windows, "people_seen": self.people,
            "people_per_window": round(self.people / self.windows, 2) if self.windows else None,
            "busiest_window_people": self.people_max,
            "mood_index": None if self.mood_index is None else round(self.mood_index, 3),
            "feedback": {"happy": self.happy, "neutral": self.neutral, "unhappy": self.unhappy},
            "feedback_presses": presses,
            "feedback_share": {k: round(v / presses, 3) for k, v in
                               (("happy", self.happy), ("neutral", self.neutral), ("unhappy", self.unhappy))}
            if presses else None,
            "presses_per_100_people": round(100 * presses / self.people, 2) if self.people else None,
            "feedback_score": None if self.feedback_score is None else round(self.feedback_score, 3),
            "disagree": self.disagree,
        }


@dataclass(frozen=True)
class Range:
    """A half-open span [start, end) of local calendar days in one time zone."""

    first: date
    last: date  # inclusive
    zone: ZoneInfo

    @property
    def start(self) -> float:
        return datetime.combine(self.first, dtime(0), self.zone).timestamp()

    @property
    def end(self) -> float:
        return datetime.combine(self.last + timedelta(days=1), dtime(0), self.zone).timestamp()

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def date_range(first: date, last: date, zone: ZoneInfo) -> Range:
    """A checked range: not reversed, at most MAX_RANGE_DAYS days."""
    if last < first:
        raise HistoryError(f"range {first}..{last} is reversed: 'from' must not be after 'to'")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise HistoryError(f"range {first}..{last} is {(last - first).days + 1} days; at most {MAX_RANGE_DAYS}")
    return Range(first, last, zone)


def period_range(period: Period, on: date, zone: ZoneInfo) -> Range:
    """The day, ISO week (Monday first) or calendar month that contains `on`."""
    if period is Period.DAY:
        return Range(on, on, zone)
    if period is Period.WEEK:
        monday = on - timedelta(days=on.weekday())
        return Range(monday, monday + timedelta(days=6), zone)
    first = on.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Range(first, following - timedelta(days=1), zone)


def previous_range(period: Period, current: Range) -> Range:
    """The period just before `current`, for comparison."""
    return period_range(period, current.first - timedelta(days=1), current.zone)


@dataclass(frozen=True)
class SeriesPoint:
    """One bucket of a chart: its label (local hour or date) and its totals."""

    label: str
    start: float
    totals: Totals

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "start": self.start, **self.totals.as_json()}


@dataclass(frozen=True)
class PeriodView:
    """One store over a day, week or month: buckets, per-kiosk trends, totals and the previous period."""

    store: str
    period: Period
    range: Range
    previous: Range
    buckets: tuple[SeriesPoint, ...]
    totals: Totals
    previous_totals: Totals
    previous_buckets: tuple[SeriesPoint, ...]
    kiosks: Mapping[str, tuple[SeriesPoint, ...]]
    kiosk_totals: Mapping[str, Totals]
    counts: Mapping[str, int]
    resolution: str

    def as_json(self) -> dict[str, Any]:
        return {
            "store": self.store, "period": self.period.value, "from": self.range.first.isoformat(),
            "to": self.range.last.isoformat(), "tz": self.range.zone.key,
            "previous": {"from": self.previous.first.isoformat(), "to": self.previous.last.isoformat(),
                         "totals": self.previous_totals.as_json(),
                         "buckets": [b.as_json() for b in self.previous_buckets]},
            "bucket": "hour" if self.period is Period.DAY else "day", "resolution": self.resolution,
            "totals": self.totals.as_json(), "counts": dict(self.counts),
            "buckets": [b.as_json() for b in self.buckets],
            "kiosks": {k: {"totals": self.kiosk_totals[k].as_json(), "buckets": [p.as_json() for p in pts]}
                       for k, pts in self.kiosks.items()},
        }


@dataclass(frozen=True)
class HeatMap:
    """Weekday (0 = Monday) x local hour cells over a range."""

    store: str
    range: Range
    cells: Mapping[tuple[int, int], Totals] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "store": self.store, "from": self.range.first.isoformat(), "to": self.range.last.isoformat(),
            "tz": self.range.zone.key, "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "cells": [{"weekday": wd, "hour": h, **t.as_json()} for (wd, h), t in sorted(self.cells.items())],
        }


class History:
    """Read side of the rollups for one database, with the retention the rollup job prunes by."""

    def __init__(self, store: _SqlStore, retention: RetentionSettings | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.retention = retention or RetentionSettings()
        self.clock = clock  # which rows retention has pruned depends on "now"; tests pass a fixed one

    def store_ids(self) -> list[str]:
        """Stores with kiosks or data, including those whose raw windows are pruned: kiosks, daily rollups and
        the not yet rolled windows (a small partial index), never a scan of all raw windows."""
        rows = self.store._fetch(
            self.store._conn(), "SELECT store_id FROM kiosks UNION SELECT DISTINCT store_id FROM rollups WHERE "
            f"width_s = {DAY} UNION SELECT DISTINCT store_id FROM windows WHERE rolled = 0")
        return sorted(r[0] for r in rows)

    # -- reading slots ---------------------------------------------------------------------------------
    def slots(self, stores: Sequence[str], start: float, end: float, per_kiosk: bool = True) -> list[SlotRow]:
        """Hourly slots in [start, end) (daily ones where hourly rows are past retention) for these stores.

        Plain tuples (see SlotRow): a year of one store is ~9,000 of them and objects per row cost more
        than the query (measured with bench-history)."""
        if not stores:
            return []
        cut = cutoffs(self.retention, self.clock())
        marks = ",".join("?" * len(stores))
        kiosk = "kiosk_id" if per_kiosk else "''"
        group = "store_id, kiosk_id, start" if per_kiosk else "store_id, start"
        conn = self.store._conn()
        sums = "sum(windows), sum(people), max(people_max), sum(mood_weighted), sum(fb_happy), sum(fb_neutral), sum(fb_unhappy)"
        hour_from = max(start, cut.hourly) if cut.hourly is not None else start
        out: list[SlotRow] = []
        rows = self.store._fetch(
            conn, f"SELECT store_id, {kiosk}, start, {HOUR}, {sums} FROM rollups WHERE store_id IN ({marks}) "
                  f"AND width_s = ? AND start >= ? AND start < ? GROUP BY {group}", (*stores, HOUR, hour_from, end))
        out += rows
        bucket = self.store.bucket_expr.format(b=HOUR)
        rows = self.store._fetch(
            conn, f"SELECT store_id, {kiosk}, {bucket} AS start, {HOUR}, count(*), sum(people), max(people), "
                  "sum(mood_index * people), sum(fb_happy), sum(fb_neutral), sum(fb_unhappy) FROM windows "
                  f"WHERE store_id IN ({marks}) AND rolled = 0 AND window_start >= ? AND window_start < ? "
                  f"GROUP BY {group.replace('start', bucket)}", (*stores, start, end))
        out += rows
        if cut.hourly is not None and start < cut.hourly:
            first_day = (int(start) // DAY) * DAY
            rows = self.store._fetch(
                conn, f"SELECT store_id, {kiosk}, start, {DAY}, {sums} FROM rollups WHERE store_id IN ({marks}) "
                      f"AND width_s = ? AND start >= ? AND start < ? GROUP BY {group}",
                (*stores, DAY, first_day, min(end, cut.hourly)))
            out += rows
        return out

    def counts(self, store: str, start: float, end: float) -> dict[str, int]:
        """Expression mix (people per label, summed over windows) in [start, end), hourly resolution."""
        conn = self.store._conn()
        totals: dict[str, int] = {}
        for label, n in self.store._fetch(
            conn, "SELECT label, sum(n) FROM rollup_counts WHERE store_id = ? AND width_s = ? AND start >= ? "
                  "AND start < ? GROUP BY label", (store, HOUR, start, end)):
            totals[label] = totals.get(label, 0) + int(n)
        for (raw,) in self.store._fetch(
            conn, "SELECT counts FROM windows WHERE store_id = ? AND rolled = 0 AND window_start >= ? "
                  "AND window_start < ?", (store, start, end)):
            for label, n in (json.loads(raw) if isinstance(raw, str) else raw).items():
                totals[label] = totals.get(label, 0) + int(n)
        return totals

    # -- views -----------------------------------------------------------------------------------------
    def period(self, store: str, period: Period, on: date, zone: ZoneInfo) -> PeriodView:
        """A store's day (by local hour), week or month (by local day) with the previous period beside it."""
        current = period_range(period, on, zone)
        previous = previous_range(period, current)
        slots = self.slots([store], previous.start, current.end)
        split = current.start
        now_slots = [s for s in slots if s[2] >= split]
        before = [s for s in slots if s[2] < split]
        by_day = period is not Period.DAY
        kiosks: dict[str, list[SlotRow]] = {}
        for s in now_slots:
            kiosks.setdefault(s[1], []).append(s)
        resolution = "day (UTC)" if any(s[3] == DAY for s in slots) else "hour"
        return PeriodView(
            store, period, current, previous,
            _series(now_slots, current, by_day), _sum(now_slots), _sum(before), _series(before, previous, by_day),
            {k: _series(v, current, by_day) for k, v in sorted(kiosks.items())},
            {k: _sum(v) for k, v in sorted(kiosks.items())},
            self.counts(store, current.start, current.end), resolution,
        )

    def heatmap(self, store: str, span: Range) -> HeatMap:
        """Weekday x hour of the viewer's time zone (hourly data only: days past retention are left out)."""
        cells: dict[tuple[int, int], list[Any]] = {}
        local = _LocalClock(span.zone)
        for s in self.slots([store], span.start, span.end, per_kiosk=False):
            if s[3] == HOUR:
                _add(cells.setdefault(local.weekday_hour(s[2]), _zero()), s)
        return HeatMap(store, span, {k: _totals(v) for k, v in cells.items()})

    def compare(self, stores: Sequence[str], period: Period, on: date, zone: ZoneInfo
                ) -> list[tuple[str, Totals, Totals]]:
        """Per store: (store, this period's totals, the previous period's totals)."""
        current = period_range(period, on, zone)
        previous = previous_range(period, current)
        now_t = {s: _zero() for s in stores}
        before_t = {s: _zero() for s in stores}
        for s in self.slots(list(stores), previous.start, current.end, per_kiosk=False):
            _add((now_t if s[2] >= current.start else before_t)[s[0]], s)
        return [(s, _totals(now_t[s]), _totals(before_t[s])) for s in stores]

    def store_day(self, store: str, day_start: float, bucket_s: int) -> StoreDay:
        """The live chart's day: raw windows while they are kept, hourly rollups for older days."""
        if day_start >= cutoffs(self.retention, self.clock()).raw:
            return self.store.store_day(store, day_start, bucket_s)
        slots = sorted(self.slots([store], day_start, day_start + 86400, per_kiosk=False), key=lambda s: s[2])
        buckets = []
        for s in slots:
            t = _totals(_add(_zero(), s))
            buckets.append(Bucket(float(s[2]), t.people, t.mood_index, t.windows,
                                  {"happy": t.happy, "neutral": t.neutral, "unhappy": t.unhappy}))
        total = _sum(slots)
        return StoreDay(store, day_start, HOUR if all(s[3] == HOUR for s in slots) else DAY, tuple(buckets),
                        self.counts(store, day_start, day_start + 86400),
                        {"happy": total.happy, "neutral": total.neutral, "unhappy": total.unhappy},
                        total.people, total.windows)


# (store, kiosk, start, width_s, windows, people, people_max, mood_weighted, happy, neutral, unhappy)
SlotRow = Sequence[Any]


def _zero() -> list[Any]:
    return [0, 0, 0, 0.0, 0, 0, 0]


def _add(acc: list[Any], s: SlotRow) -> list[Any]:
    """Add one slot row into an accumulator in place (sums; max for the busiest window)."""
    acc[0] += int(s[4])
    acc[1] += int(s[5] or 0)
    acc[2] = max(acc[2], int(s[6] or 0))
    acc[3] += float(s[7] or 0)
    acc[4] += int(s[8] or 0)
    acc[5] += int(s[9] or 0)
    acc[6] += int(s[10] or 0)
    return acc


def _totals(acc: list[Any]) -> Totals:
    return Totals(*acc)


def _sum(slots: Iterable[SlotRow]) -> Totals:
    acc = _zero()
    for s in slots:
        _add(acc, s)
    return _totals(acc)


class _LocalClock:
    """Epoch hour -> local date / weekday and hour, cached: per-kiosk rows repeat the same hours."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._cache: dict[float, datetime] = {}

    def at(self, epoch: float) -> datetime:
        moment = self._cache.get(epoch)
        if moment is None:
            moment = self._cache[epoch] = datetime.fromtimestamp(epoch, self.zone)
        return moment

    def weekday_hour(self, epoch: float) -> tuple[int, int]:
        moment = self.at(epoch)
        return moment.weekday(), moment.hour


def _series(slots: Iterable[SlotRow], span: Range, by_day: bool) -> tuple[SeriesPoint, ...]:
    """Every bucket of the span (empty ones too, so charts line up), in local time."""
    zone = span.zone
    if by_day:
        keys = [span.first + timedelta(days=i) for i in range(span.days)]
        days: dict[Any, list[Any]] = {k: _zero() for k in keys}
        local = _LocalClock(zone)
        for s in slots:
            day = (datetime.fromtimestamp(float(s[2]), timezone.utc).date() if s[3] == DAY
                   else local.at(float(s[2])).date())
            if day in days:
                _add(days[day], s)
        return tuple(SeriesPoint(k.isoformat(), datetime.combine(k, dtime(0), zone).timestamp(), _totals(days[k]))
                     for k in keys)
    hours: dict[float, list[Any]] = {}
    t = span.start
    while t < span.end:  # 23, 24 or 25 local hours (daylight saving)
        hours[t] = _zero()
        t += HOUR
    for s in slots:
        key = span.start + ((float(s[2]) - span.start) // HOUR) * HOUR if s[3] == HOUR else span.start
        if key in hours:
            _add(hours[key], s)
    return tuple(SeriesPoint(datetime.fromtimestamp(k, zone).strftime("%H:00"), k, _totals(v))
                 for k, v in hours.items())
