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

import numpy as np

from central.records import Bucket, StoreDay
from central.rollup import DAY, HOUR, RetentionSettings, cutoffs
from central.store import PostgresStore, _SqlStore

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
        """Stores with kiosks or data, including those whose raw windows are pruned: kiosks, rollups and the
        not yet rolled windows (a small partial index), never a scan of all raw or rollup rows."""
        conn = self.store._conn()
        found = {r[0] for r in self.store._fetch(conn, "SELECT store_id FROM kiosks UNION SELECT DISTINCT store_id "
                                                       "FROM windows WHERE rolled = 0")}
        last = ""
        while True:  # one index seek per store instead of DISTINCT over ~500,000 rollup rows a year
            row = self.store._fetch(conn, "SELECT min(store_id) FROM rollups WHERE store_id > ?", (last,))
            if not row or row[0][0] is None:
                return sorted(found)
            last = row[0][0]
            found.add(last)

    # -- reading slots ---------------------------------------------------------------------------------
    def slots(self, stores: Sequence[str], start: float, end: float, per_kiosk: bool = True,
              split: float | None = None, zone: ZoneInfo | None = None, unit: str | None = None) -> list[SlotRow]:
        """Hourly slots in [start, end) (daily ones where hourly rows are past retention) for these stores.

        Plain tuples (see SlotRow): a year of one store is ~9,000 of them and objects per row cost more
        than the query (measured with bench-history)."""
        if not stores:
            return []
        cut = cutoffs(self.retention, self.clock())
        marks = ",".join("?" * len(stores))
        conn = self.store._conn()
        sums = "sum(windows), sum(people), max(people_max), sum(mood_weighted), sum(fb_happy), sum(fb_neutral), sum(fb_unhappy)"
        raw_sums = ("count(*), sum(people), max(people), sum(mood_index * people), sum(fb_happy), sum(fb_neutral), "
                    "sum(fb_unhappy)")

        transitions = _transitions(zone, start - DAY, end + DAY) if zone is not None else ([start], [0.0])

        def floor_div(expr: str, by: int) -> str:
            if isinstance(self.store, PostgresStore):
                return f"CAST(floor(({expr}) / {by}) AS BIGINT)"
            return f"CAST(({expr}) / {by} AS INTEGER)"

        def grouping(start_col: str, utc_days: bool = False) -> tuple[str, str]:
            """(select list head, group by) for rows whose slot start is `start_col`. With `unit` the slot is
            cut in SQL into local days ("day": the local day number) or weekday x hour ("weekday_hour":
            weekday * 24 + hour, Monday = 0), so a month or a year comes back as a few hundred rows."""
            if unit is not None:
                times, offsets = transitions
                shift = " ".join(f"WHEN {start_col} >= {t!r} THEN {o!r}" for t, o in zip(times[::-1], offsets[::-1]))
                local = start_col if utc_days else f"{start_col} + CASE {shift} ELSE {offsets[0]!r} END"
                day = floor_div(local, DAY)
                mod = "%%" if isinstance(self.store, PostgresStore) else "%"  # psycopg reads a lone % as a placeholder
                key = day if unit == "day" else \
                    f"(({day} + 3) {mod} 7) * 24 + {floor_div(f'{local} - {day} * {DAY}', HOUR)}"
                return (f"store_id, {'kiosk_id' if per_kiosk else chr(39) * 2}, {key}",
                        f"store_id, {'kiosk_id, ' if per_kiosk else ''}{key}")
            if split is not None:  # two slots per store, before and from `split` (the comparison)
                side = f"CASE WHEN {start_col} >= {float(split)!r} THEN 1 ELSE 0 END"
                return f"store_id, '', min({start_col})", f"store_id, {side}"
            if per_kiosk:
                return f"store_id, kiosk_id, {start_col}", f"store_id, kiosk_id, {start_col}"
            return f"store_id, '', {start_col}", f"store_id, {start_col}"

        hour_from = max(start, cut.hourly) if cut.hourly is not None else start
        head, group = grouping("start")
        level = "kiosk_id <> ''" if per_kiosk and split is None else "kiosk_id = ''"  # store level: see rollup.py
        out: list[SlotRow] = list(self.store._fetch(
            conn, f"SELECT {head}, {HOUR}, {sums} FROM rollups WHERE store_id IN ({marks}) AND width_s = ? "
                  f"AND start >= ? AND start < ? AND {level} GROUP BY {group}", (*stores, HOUR, hour_from, end)))
        raw_head, raw_group = grouping(self.store.bucket_expr.format(b=HOUR))
        out += self.store._fetch(
            conn, f"SELECT {raw_head}, {HOUR}, {raw_sums} FROM windows WHERE store_id IN ({marks}) AND rolled = 0 "
                  f"AND window_start >= ? AND window_start < ? GROUP BY {raw_group}", (*stores, start, end))
        if cut.hourly is not None and start < cut.hourly and unit != "weekday_hour":
            first_day = (int(start) // DAY) * DAY
            head, group = grouping("start", utc_days=True)
            out += self.store._fetch(
                conn, f"SELECT {head}, {DAY}, {sums} FROM rollups WHERE store_id IN ({marks}) AND width_s = ? "
                      f"AND start >= ? AND start < ? AND {level} GROUP BY {group}",
                (*stores, DAY, first_day, min(end, cut.hourly)))
        return out

    def counts(self, store: str, start: float, end: float) -> dict[str, int]:
        """Expression mix (people per label, summed over windows) in [start, end), hourly resolution."""
        conn = self.store._conn()
        totals: dict[str, int] = {}
        for label, n in self.store._fetch(
            conn, "SELECT label, sum(n) FROM rollup_counts WHERE store_id = ? AND width_s = ? AND start >= ? "
                  "AND start < ? AND kiosk_id = '' GROUP BY label", (store, HOUR, start, end)):
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
        by_day = period is not Period.DAY
        table = _Table.of(self.slots([store], previous.start, current.end, zone=zone, unit="day" if by_day else None))
        split = _day_number(current.first) if by_day else current.start
        now_t, before_t = table.where(table.start >= split), table.where(table.start < split)
        kiosks = sorted(set(now_t.kiosk.tolist()))
        per_kiosk = {k: now_t.where(now_t.kiosk == k) for k in kiosks}
        return PeriodView(
            store, period, current, previous,
            _series(now_t, current, by_day), now_t.total(), before_t.total(), _series(before_t, previous, by_day),
            {k: _series(t, current, by_day) for k, t in per_kiosk.items()},
            {k: t.total() for k, t in per_kiosk.items()},
            self.counts(store, current.start, current.end),
            "day (UTC)" if bool((table.width == DAY).any()) else "hour",
        )

    def heatmap(self, store: str, span: Range) -> HeatMap:
        """Weekday x hour of the viewer's time zone (hourly data only: days past retention are left out)."""
        table = _Table.of(self.slots([store], span.start, span.end, per_kiosk=False, zone=span.zone,
                                     unit="weekday_hour"))
        cells = table.bucket(table.start.astype(np.int64), 7 * 24)
        return HeatMap(store, span, {(i // 24, i % 24): t for i, t in enumerate(cells) if t.windows})

    def compare(self, stores: Sequence[str], period: Period, on: date, zone: ZoneInfo
                ) -> list[tuple[str, Totals, Totals]]:
        """Per store: (store, this period's totals, the previous period's totals)."""
        current = period_range(period, on, zone)
        previous = previous_range(period, current)
        cells = {(s, now): Totals() for s in stores for now in (False, True)}
        for row in self.slots(list(stores), previous.start, current.end, split=current.start):
            key = (row[0], float(row[2]) >= current.start)  # slots(split=) sums each side in SQL
            cells[key] = cells[key] + _Table.of([row]).total()
        return [(s, cells[(s, True)], cells[(s, False)]) for s in stores]

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


@dataclass(frozen=True)
class _Table:
    """Slot rows as numpy columns: a year of one store is ~9,000 rows and a month view reads ~7,000, so the
    sums per bucket run vectorised (bincount) instead of row by row in Python."""

    store: np.ndarray
    kiosk: np.ndarray
    start: np.ndarray
    width: np.ndarray
    values: np.ndarray  # (n, 7): windows, people, people_max, mood_weighted, happy, neutral, unhappy

    @classmethod
    def of(cls, rows: Sequence[SlotRow]) -> "_Table":
        if not rows:
            return cls(np.array([], dtype=object), np.array([], dtype=object), np.zeros(0), np.zeros(0, np.int64),
                       np.zeros((0, 7)))
        return cls(np.array([r[0] for r in rows], dtype=object), np.array([r[1] for r in rows], dtype=object),
                   np.array([float(r[2]) for r in rows]), np.array([int(r[3]) for r in rows], dtype=np.int64),
                   np.array([[float(v or 0) for v in r[4:11]] for r in rows]))

    def where(self, mask: np.ndarray) -> "_Table":
        return _Table(self.store[mask], self.kiosk[mask], self.start[mask], self.width[mask], self.values[mask])

    def total(self) -> Totals:
        return _to_totals(self.values.sum(axis=0) if len(self.values) else np.zeros(7),
                          self.values[:, 2].max() if len(self.values) else 0)

    def bucket(self, index: np.ndarray, n: int) -> list[Totals]:
        """Totals per bucket 0..n-1; rows with an index outside are left out."""
        keep = (index >= 0) & (index < n)
        index, values = index[keep].astype(np.int64), self.values[keep]
        sums = np.stack([np.bincount(index, weights=values[:, c], minlength=n) for c in range(7)], axis=1)
        peak = np.zeros(n)
        np.maximum.at(peak, index, values[:, 2])
        return [_to_totals(sums[i], peak[i]) for i in range(n)]


def _to_totals(sums: np.ndarray, peak: float) -> Totals:
    return Totals(int(round(sums[0])), int(round(sums[1])), int(round(peak)), float(sums[3]), int(round(sums[4])),
                  int(round(sums[5])), int(round(sums[6])))


def _day_number(day: date) -> int:
    """Days since 1970-01-01 (the local day numbers slots(unit="day") returns)."""
    return day.toordinal() - date(1970, 1, 1).toordinal()


def _offset(epoch: float, zone: ZoneInfo) -> float:
    offset = datetime.fromtimestamp(epoch, zone).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def _transitions(zone: ZoneInfo, lo: float, hi: float) -> tuple[list[float], list[float]]:
    """The zone's UTC offset over [lo, hi): (instants it changes, offset from each on). Looked up once a day
    and hour by hour on the days it changes (daylight saving): ~400 look-ups a year, a handful of changes."""
    times, offsets = [lo], [_offset(lo, zone)]
    t = lo
    while t < hi:
        nxt = min(t + DAY, hi)
        if _offset(nxt, zone) != offsets[-1]:
            h = t
            while h < nxt and _offset(h + HOUR, zone) == offsets[-1]:
                h += HOUR
            times.append(h + HOUR)
            offsets.append(_offset(h + HOUR, zone))
        t = nxt
    return times, offsets


def _series(table: _Table, span: Range, by_day: bool) -> tuple[SeriesPoint, ...]:
    """Every bucket of the span (empty ones too, so charts line up), in local time."""
    zone = span.zone
    if by_day:  # rows from slots(unit="day"): start is the local day number (a daily rollup's UTC date)
        cells = table.bucket(table.start.astype(np.int64) - _day_number(span.first), span.days)
        keys = [span.first + timedelta(days=i) for i in range(span.days)]
        return tuple(SeriesPoint(k.isoformat(), datetime.combine(k, dtime(0), zone).timestamp(), cells[i])
                     for i, k in enumerate(keys))
    n = int(round((span.end - span.start) / HOUR))  # 23, 24 or 25 local hours (daylight saving)
    index = np.where(table.width == HOUR, (table.start - span.start) // HOUR, 0).astype(np.int64)
    cells = table.bucket(index, n)
    starts = [span.start + i * HOUR for i in range(n)]
    return tuple(SeriesPoint(datetime.fromtimestamp(t, zone).strftime("%H:00"), t, cells[i])
                 for i, t in enumerate(starts))
