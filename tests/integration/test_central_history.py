"""History over rollups on real SQLite files and a real PostgreSQL server: the rollup counts each window once,
raw windows are pruned by age, and day/week/month views, heat map and comparison agree across the boundary."""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from central.history import History, HistoryError, Period, date_range
from central.records import DeadLetter
from central.rollup import RetentionSettings, Rollup, cutoffs
from central.store import open_store
from central.errors import CentralError
from helpers.history_data import records
from helpers.postgres import postgres_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(120)

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
DAY0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
RETENTION = RetentionSettings(raw_days=2, hourly_days=30, daily_days=0)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.db'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"hist_{uuid.uuid4().hex[:8]}")


def _raw_totals(store, store_id: str, start: float, end: float) -> tuple[int, int, int, float]:
    rows = store._fetch(store._conn(), "SELECT count(*), sum(people), sum(fb_happy + fb_neutral + fb_unhappy), "
                        "sum(mood_index * people) FROM windows WHERE store_id = ? AND window_start >= ? "
                        "AND window_start < ?", (store_id, start, end))
    n, people, presses, weighted = rows[0]
    return int(n), int(people or 0), int(presses or 0), round(float(weighted or 0), 6)


def test_rollup_once_prune_and_views_across_the_boundary(db_url: str) -> None:
    store = open_store(db_url)
    try:
        data = []
        for day in range(4):  # Monday .. Thursday, 10:00-12:00 UTC, two kiosks in s1, one in s2
            for kiosk, seed in (("k1", 0), ("k2", 3)):
                data += records("s1", kiosk, DAY0 + timedelta(days=day, hours=10), 120, seed + day)
            data += records("s2", "k1", DAY0 + timedelta(days=day, hours=10), 120, 5)
        assert store.insert_windows(data) == len(data)
        week = (DAY0.timestamp(), (DAY0 + timedelta(days=7)).timestamp())
        expected_week = _raw_totals(store, "s1", *week)
        day1 = (DAY0 + timedelta(days=1)).timestamp()
        raw_day1 = store.store_day("s1", day1, 3600)

        now = (DAY0 + timedelta(days=4, hours=13)).timestamp()  # Friday: raw cutoff = Wednesday 00:00 UTC
        for day in (1, 3):  # a dead letter of Tuesday goes with Tuesday's raw windows, Thursday's stays
            store.add_dead_letter(DeadLetter((DAY0 + timedelta(days=day, hours=9)).timestamp(), "moodkiosk/v1/s1/k1/mood",
                                             b"{}", "store_failed", f"day {day}"))
        history = History(store, RETENTION, clock=lambda: now)
        before = history.period("s1", Period.WEEK, DAY0.date(), ZoneInfo("UTC"))  # nothing rolled yet: raw
        rollup = Rollup(store, RETENTION)
        first = rollup.run_once(now)
        assert first.rolled == len(data)
        assert rollup.run_once(now).rolled == 0  # a second run (or a second process) adds nothing
        assert store.insert_windows(data[-5:]) == 0  # a redelivery of a kept window is still a duplicate

        kept = store.count_windows()
        raw_cut = cutoffs(RETENTION, now).raw
        assert raw_cut == (DAY0 + timedelta(days=2)).timestamp()
        assert first.pruned_windows == len(data) - kept == 2 * 3 * 120  # Monday and Tuesday are gone
        assert _raw_totals(store, "s1", DAY0.timestamp(), raw_cut)[0] == 0
        assert [letter.detail for letter in store.dead_letters()] == ["day 3"]

        after = history.period("s1", Period.WEEK, DAY0.date(), ZoneInfo("UTC"))
        for view in (before, after):
            t = view.totals
            assert (t.windows, t.people, t.presses, round(t.mood_weighted, 6)) == expected_week
        assert after.as_json() == before.as_json()  # the boundary is invisible in the week view
        assert [b.label for b in after.buckets][:2] == ["2026-03-02", "2026-03-03"]
        assert set(after.kiosks) == {"k1", "k2"}
        assert sum(k.windows for k in after.kiosk_totals.values()) == expected_week[0]

        # The live chart's day endpoint: a pruned day now comes from hourly rollups with the same totals.
        rolled_day1 = history.store_day("s1", day1, 900)
        assert rolled_day1.bucket_s == 3600
        assert (rolled_day1.people, rolled_day1.windows, dict(rolled_day1.feedback), dict(rolled_day1.counts)) == (
            raw_day1.people, raw_day1.windows, dict(raw_day1.feedback), dict(raw_day1.counts))
        assert [(b.start, b.people) for b in rolled_day1.buckets] == [(b.start, b.people) for b in raw_day1.buckets]

        # New windows after the rollup are counted at once (raw, not yet rolled) and exactly once later.
        late = records("s1", "k1", DAY0 + timedelta(days=3, hours=15), 30, 9)
        store.insert_windows(late)
        fresh = history.period("s1", Period.WEEK, DAY0.date(), ZoneInfo("UTC")).totals
        assert fresh.windows == after.totals.windows + 30
        rollup.run_once(now)
        assert history.period("s1", Period.WEEK, DAY0.date(), ZoneInfo("UTC")).totals.as_json() == fresh.as_json()

        # Berlin days and hours: 10:00 UTC is 11:00 in winter time.
        day = history.period("s1", Period.DAY, (DAY0 + timedelta(days=2)).date(), BERLIN)
        busy = [b.label for b in day.buckets if b.totals.windows]
        assert busy == ["11:00", "12:00"] and len(day.buckets) == 24
        assert day.previous.first == (DAY0 + timedelta(days=1)).date() and day.previous_totals.windows == 240

        heat = history.heatmap("s1", date_range(DAY0.date(), (DAY0 + timedelta(days=6)).date(), BERLIN))
        assert set(heat.cells) == {(wd, h) for wd in range(4) for h in (11, 12)} | {(3, 16)}  # + the late ones
        assert sum(c.windows for c in heat.cells.values()) == fresh.windows

        rows = history.compare(["s1", "s2"], Period.WEEK, DAY0.date(), ZoneInfo("UTC"))
        assert [(s, now_t.windows, prev.windows) for s, now_t, prev in rows] == [
            ("s1", fresh.windows, 0), ("s2", 4 * 120, 0)]
    finally:
        store.close()


def test_past_hourly_retention_daily_rollups_answer(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        data = records("s1", "k1", DAY0 + timedelta(hours=9), 180)
        store.insert_windows(data)
        short = RetentionSettings(raw_days=1, hourly_days=2, daily_days=0)
        now = (DAY0 + timedelta(days=10)).timestamp()
        result = Rollup(store, short).run_once(now)
        assert result.pruned_windows == 180 and result.pruned_rollups == 3 * 2  # 3 hours (kiosk + store level)
        view = History(store, short, clock=lambda: now).period("s1", Period.MONTH, DAY0.date(), ZoneInfo("UTC"))
        assert view.resolution == "day (UTC)"
        assert view.totals.windows == 180 and view.totals.people == sum(r.people for r in data)
        assert [b.totals.windows for b in view.buckets if b.totals.windows] == [180]
        assert view.buckets[1].label == "2026-03-02"
    finally:
        store.close()


def test_disagreement_marker() -> None:
    from central.history import Totals
    camera_happy_shoppers_not = Totals(windows=10, people=30, people_max=4, mood_weighted=30.0, unhappy=4)
    assert camera_happy_shoppers_not.mood_index == 1.0 and camera_happy_shoppers_not.feedback_score == -1.0
    assert camera_happy_shoppers_not.disagree
    assert not Totals(windows=10, people=30, mood_weighted=30.0, unhappy=2).disagree  # too few presses
    assert not Totals(windows=10, people=30, mood_weighted=15.0, happy=3, neutral=1).disagree  # agree
    assert camera_happy_shoppers_not.as_json()["presses_per_100_people"] == round(400 / 30, 2)


def test_bad_ranges_and_retention_settings() -> None:
    utc = ZoneInfo("UTC")
    with pytest.raises(HistoryError, match="reversed"):
        date_range(date(2026, 3, 5), date(2026, 3, 1), utc)
    with pytest.raises(HistoryError, match="at most 366"):
        date_range(date(2025, 1, 1), date(2026, 3, 1), utc)
    assert date_range(date(2026, 3, 1), date(2026, 3, 1), utc).days == 1
    for bad in (dict(raw_days=0), dict(raw_days=40, hourly_days=10), dict(raw_days=-1), dict(hourly_days=0, daily_days=5)):
        with pytest.raises(CentralError):
            RetentionSettings(**bad)


def test_upgrading_a_version_1_database_rolls_up_its_windows(tmp_path: Path) -> None:
    """A central that ran before the rollups: its windows are kept and rolled up after the migration."""
    import sqlite3

    from central.store import _MIGRATIONS_SQLITE

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
                "applied_at DOUBLE PRECISION NOT NULL)")
    for statement in _MIGRATIONS_SQLITE[0][2]:
        old.execute(statement)
    old.execute("INSERT INTO schema_migrations VALUES (1, 'windows and kiosks', 0)")
    data = records("s1", "k1", DAY0 + timedelta(hours=9), 30)
    old.executemany("INSERT INTO windows (store_id, kiosk_id, seq, window_start, window_end, people, counts, "
                    "mood_index, fb_happy, fb_neutral, fb_unhappy, model_version, merged_windows, received_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(r.store, r.kiosk, r.seq, r.start, r.end, r.people, json.dumps(r.counts), r.mood_index,
                      r.feedback_happy, r.feedback_neutral, r.feedback_unhappy, r.model_version, r.merged_windows,
                      r.received_at) for r in data])
    old.commit()
    old.close()
    store = open_store(f"sqlite:///{path}")
    try:
        assert store.migrate() == len(_MIGRATIONS_SQLITE)
        assert Rollup(store, RETENTION).roll() == 30
        totals = History(store, RETENTION, clock=lambda: DAY0.timestamp()).period(
            "s1", Period.DAY, DAY0.date(), ZoneInfo("UTC")).totals
        assert (totals.windows, totals.people) == (30, sum(r.people for r in data))
    finally:
        store.close()


def test_local_days_and_hours_across_daylight_saving(db_url: str) -> None:
    """Days and weekday x hour are cut in SQL with the zone's offsets; across the spring and autumn changes
    they must match zoneinfo window by window."""
    from collections import Counter

    store = open_store(db_url)
    try:
        data = []
        for first in (datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 10, 23, tzinfo=UTC)):
            data += records("s1", "k1", first, 4 * 24 * 60 // 7, seed=1)  # every minute for ~13 h ...
            data += [r.__class__(**{**r.__dict__, "start": r.start + 7 * 3600 * i, "end": r.end + 7 * 3600 * i,
                                     "seq": r.seq + 10_000 * i})
                     for i in range(1, 7) for r in records("s1", "k2", first, 60, seed=i)]  # ... and hours around
        store.insert_windows(data)
        Rollup(store, RETENTION).roll()
        history = History(store, RetentionSettings(raw_days=2, hourly_days=800),
                          clock=lambda: datetime(2026, 11, 1, tzinfo=UTC).timestamp())
        for zone in (BERLIN, ZoneInfo("America/New_York")):
            local = [datetime.fromtimestamp(r.start, zone) for r in data]
            for on in (date(2026, 3, 29), date(2026, 10, 25)):
                view = history.period("s1", Period.WEEK, on, zone)
                expected = Counter(t.date().isoformat() for t in local)
                assert {b.label: b.totals.windows for b in view.buckets if b.totals.windows} == {
                    d: n for d, n in expected.items() if view.range.first.isoformat() <= d <= view.range.last.isoformat()}
            heat = history.heatmap("s1", date_range(date(2026, 3, 26), date(2026, 10, 28), zone))
            assert {k: c.windows for k, c in heat.cells.items()} == dict(Counter((t.weekday(), t.hour) for t in local))
    finally:
        store.close()
