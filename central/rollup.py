"""Roll raw windows up into hourly and daily aggregates, and prune raw windows and old rollups by age.

Why: a year of 60 s windows for 50 kiosks is 26 million rows; month views and heat maps read a few thousand
hourly rows instead, and raw windows (the finest, most revealing data central holds) are kept only for a
configurable number of days. Each window is added to its hour and its (UTC) day exactly once: it is marked
`rolled` in the same transaction that adds it, so a crash or a second central process never counts it twice.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from central.errors import CentralError
from central.periodic import PeriodicThread
from central.store import PostgresStore, _SqlStore

log = logging.getLogger(__name__)

HOUR = 3600
DAY = 86400
WIDTHS = (HOUR, DAY)
BATCH = 50_000  # windows per transaction: keeps the collector's writer waiting for at most ~a second


@dataclass(frozen=True)
class RetentionSettings:
    """How long each resolution is kept (days; 0 = forever) and how often the rollup runs."""

    raw_days: int = 35
    hourly_days: int = 800
    daily_days: int = 0
    interval_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("raw_days", "hourly_days", "daily_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0 or value > 36500:
                raise CentralError(f"--{name.replace('_', '-')} {value!r} must be a whole number of days, 0..36500")
        if self.raw_days == 0 or (self.hourly_days and self.hourly_days < self.raw_days):
            raise CentralError("--raw-days must be at least 1 and --hourly-days (0 = forever) at least --raw-days")
        if self.hourly_days == 0 and self.daily_days:
            raise CentralError("--daily-days needs --hourly-days to be limited too")
        if self.daily_days and self.hourly_days and self.daily_days < self.hourly_days:
            raise CentralError("--daily-days (0 = forever) must be at least --hourly-days")


@dataclass(frozen=True)
class Cutoffs:
    """Epoch seconds (UTC midnights) before which a resolution has been pruned; None = kept forever."""

    raw: float
    hourly: float | None
    daily: float | None


def cutoffs(settings: RetentionSettings, now: float) -> Cutoffs:
    """Cut at UTC midnights, so a day is either fully in a resolution or fully out of it."""
    def cut(days: int) -> float | None:
        return None if days == 0 else (int(now // DAY) - days) * DAY
    raw = cut(settings.raw_days)
    assert raw is not None
    return Cutoffs(raw, cut(settings.hourly_days), cut(settings.daily_days))


@dataclass(frozen=True)
class RollupResult:
    """What one run did (for the log and the tests)."""

    rolled: int
    pruned_windows: int
    pruned_rollups: int


_ROLLUP_COLUMNS = ("store_id, kiosk_id, width_s, start, windows, people, people_max, mood_weighted, "
                   "fb_happy, fb_neutral, fb_unhappy")


# Every slot is kept per kiosk and once more for the whole store (kiosk_id '', never a valid kiosk id): store
# views, heat maps and comparisons read a fifth of the rows of a five-kiosk store.
STORE_LEVEL = ""
_KIOSK = f"CASE WHEN lv.l = 1 THEN '{STORE_LEVEL}' ELSE w.kiosk_id END"


def _aggregate_sql(source: str, bucket: str, greatest: str, widths: str, levels: str) -> str:
    return (
        f"INSERT INTO rollups ({_ROLLUP_COLUMNS}) "
        f"SELECT w.store_id, {_KIOSK}, ws.w, {bucket}, count(*), sum(w.people), max(w.people), "
        "sum(w.mood_index * w.people), sum(w.fb_happy), sum(w.fb_neutral), sum(w.fb_unhappy) "
        f"FROM {source}, {widths}, {levels} WHERE true GROUP BY w.store_id, {_KIOSK}, ws.w, {bucket} "
        "ON CONFLICT (store_id, width_s, start, kiosk_id) DO UPDATE SET "
        "windows = rollups.windows + excluded.windows, people = rollups.people + excluded.people, "
        f"people_max = {greatest}(rollups.people_max, excluded.people_max), "
        "mood_weighted = rollups.mood_weighted + excluded.mood_weighted, "
        "fb_happy = rollups.fb_happy + excluded.fb_happy, fb_neutral = rollups.fb_neutral + excluded.fb_neutral, "
        "fb_unhappy = rollups.fb_unhappy + excluded.fb_unhappy"
    )


def _counts_sql(source: str, bucket: str, each: str, value: str, widths: str, levels: str) -> str:
    return (
        "INSERT INTO rollup_counts (store_id, kiosk_id, width_s, start, label, n) "
        f"SELECT w.store_id, {_KIOSK}, ws.w, {bucket}, je.key, sum({value}) "
        f"FROM {source}, {widths}, {levels}, {each} WHERE true GROUP BY w.store_id, {_KIOSK}, ws.w, {bucket}, je.key "
        "ON CONFLICT (store_id, width_s, start, kiosk_id, label) DO UPDATE SET n = rollup_counts.n + excluded.n"
    )


class Rollup:
    """Rolls up and prunes one store (database); safe to run from several processes at once."""

    def __init__(self, store: _SqlStore, settings: RetentionSettings | None = None) -> None:
        self.store = store
        self.settings = settings or RetentionSettings()
        self._postgres = isinstance(store, PostgresStore)

    def roll(self) -> int:
        """Add every not yet rolled window to its hour and day; returns how many windows were rolled."""
        total = 0
        while True:
            done = self._roll_batch_postgres() if self._postgres else self._roll_batch_sqlite()
            total += done
            if done < BATCH:
                return total

    def _roll_batch_sqlite(self) -> int:
        widths = "(SELECT 3600 AS w UNION ALL SELECT 86400) ws"
        bucket = "CAST(w.window_start / ws.w AS INTEGER) * ws.w"
        source = "windows w JOIN temp.rollup_batch b ON w.id = b.id"
        conn = self.store._conn()
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS rollup_batch (id INTEGER PRIMARY KEY)")
        with self.store._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM temp.rollup_batch")
                n = conn.execute(f"INSERT INTO temp.rollup_batch SELECT id FROM windows WHERE rolled = 0 LIMIT {BATCH}"
                                 ).rowcount
                if n:
                    levels = "(SELECT 0 AS l UNION ALL SELECT 1) lv"
                    conn.execute(_aggregate_sql(source, bucket, "max", widths, levels))
                    conn.execute(_counts_sql(source, bucket, "json_each(w.counts) je", "je.value", widths, levels))
                    conn.execute("UPDATE windows SET rolled = 1 WHERE id IN (SELECT id FROM temp.rollup_batch)")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return int(n)

    def _roll_batch_postgres(self) -> int:
        widths = "(VALUES (3600), (86400)) AS ws(w)"
        levels = "(VALUES (0), (1)) AS lv(l)"
        bucket = "floor(w.window_start / ws.w) * ws.w"
        sql = (
            "WITH moved AS (UPDATE windows SET rolled = 1 WHERE id IN ("
            f"SELECT id FROM windows WHERE rolled = 0 LIMIT {BATCH} FOR UPDATE SKIP LOCKED) "
            "RETURNING store_id, kiosk_id, window_start, people, mood_index, fb_happy, fb_neutral, fb_unhappy, counts), "
            f"r AS ({_aggregate_sql('moved w', bucket, 'GREATEST', widths, levels)} RETURNING 1), "
            f"c AS ({_counts_sql('moved w', bucket, 'jsonb_each_text(w.counts) je', 'je.value::bigint', widths, levels)} "
            "RETURNING 1) SELECT (SELECT count(*) FROM moved)"
        )

        def run(conn: Any) -> int:
            with conn.transaction():
                return int(conn.execute(sql).fetchone()[0])
        return int(self.store._retrying(run))

    def prune(self, now: float) -> tuple[int, int]:
        """Delete rolled raw windows (and dead letters) before the raw cutoff and rollups past theirs; returns
        (windows, rollups)."""
        cut = cutoffs(self.settings, now)
        windows = rollups = 0
        stores = self.store._fetch(self.store._conn(), "SELECT store_id FROM kiosks UNION SELECT DISTINCT store_id "
                                   f"FROM rollups WHERE width_s = {DAY}")  # every rolled window has a daily row
        for (store_id,) in stores:  # per store: uses the (store_id, window_start) index
            windows += self._prune_raw(store_id, cut.raw)
            for width, before in ((HOUR, cut.hourly), (DAY, cut.daily)):
                if before is None:
                    continue
                for table in ("rollups", "rollup_counts"):
                    deleted = self._delete(f"DELETE FROM {table} WHERE store_id = ? AND width_s = ? AND start < ?",
                                           (store_id, width, before))
                    rollups += deleted if table == "rollups" else 0
        # dead letters (rows the database refused, messages the collector failed on) are kept for the operator
        # as long as raw windows, not for ever: a kiosk that keeps sending a refused row cannot fill the disk
        self._delete("DELETE FROM dead_letters WHERE received_at < ?", (cut.raw,))
        return windows, rollups

    def _prune_raw(self, store_id: str, before: float) -> int:
        """Delete the store's rolled raw windows before `before`, and in the same transaction remember per kiosk
        up to where they went (pruned_marks): a window from there can no longer be judged against its
        neighbours, so the ordering rule refuses it instead of counting it a second time."""
        mark = self.store._sql(
            "INSERT INTO pruned_marks (store_id, kiosk_id, window_end) SELECT store_id, kiosk_id, MAX(window_end) "
            "FROM windows WHERE store_id = ? AND window_start < ? AND rolled = 1 GROUP BY store_id, kiosk_id "
            "ON CONFLICT (store_id, kiosk_id) DO UPDATE SET window_end = CASE WHEN excluded.window_end > "
            "pruned_marks.window_end THEN excluded.window_end ELSE pruned_marks.window_end END")
        delete = self.store._sql("DELETE FROM windows WHERE store_id = ? AND window_start < ? AND rolled = 1")
        params = (store_id, before)
        if self._postgres:
            def run(conn: Any) -> int:
                with conn.transaction():
                    conn.execute(mark, params)
                    return int(conn.execute(delete, params).rowcount)
            return int(self.store._retrying(run))
        with self.store._write_lock:
            conn = self.store._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(mark, params)
                deleted = int(conn.execute(delete, params).rowcount)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return deleted

    def _delete(self, sql: str, params: tuple[Any, ...]) -> int:
        text = self.store._sql(sql)
        if self._postgres:
            return int(self.store._retrying(lambda conn: conn.execute(text, params).rowcount))
        with self.store._write_lock:
            return int(self.store._conn().execute(text, params).rowcount)

    def run_once(self, now: float | None = None) -> RollupResult:
        """Roll up first, then prune: a window is only ever deleted after it was counted in its hour and day."""
        rolled = self.roll()
        windows, rollups = self.prune(time.time() if now is None else now)
        return RollupResult(rolled, windows, rollups)


class RollupThread(PeriodicThread):
    """Runs the rollup every `interval_s`, and the pruning once an hour, beside the collector."""

    def __init__(self, rollup: Rollup) -> None:
        super().__init__("rollup", rollup.settings.interval_s, self._run)
        self.rollup = rollup
        self._last_prune = float("-inf")

    def _run(self) -> None:
        rolled = self.rollup.roll()
        log.debug("rollup: %s windows rolled up", rolled)
        if time.monotonic() - self._last_prune > 3600:
            self._last_prune = time.monotonic()
            windows, rollups = self.rollup.prune(time.time())
            log.info("rollup: pruned %s raw windows and %s rollup rows past retention", windows, rollups)
