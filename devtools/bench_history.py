"""`moodkiosk bench-history`: fill central with a year of 60 s windows (through the real insert, rollup and
pruning), then time the month view, heat map and store comparison over HTTP and the page load in Chromium."""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from central.errors import CentralError
from central.records import WindowRecord

log = logging.getLogger(__name__)
PASSWORD = "bench-password-1"
CHROMIUM = "/usr/bin/chromium"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--kiosks-per-store", type=int, default=5)
    parser.add_argument("--days", type=int, default=365, help="days of windows, ending yesterday")
    parser.add_argument("--raw-days", type=int, default=35, help="raw retention used while filling")
    parser.add_argument("--rounds", type=int, default=7, help="timed requests per endpoint (median and max)")
    parser.add_argument("--pg-url", default=None, help="an existing empty PostgreSQL database instead of a temporary one")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium page load")
    parser.add_argument("--full", action="store_true",
                        help="send every day through insert + rollup (slow: ~40 us a window on SQLite here)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def day_arrays(stores: int, kiosks: int, day: datetime, rng: "np.random.Generator") -> dict[str, "np.ndarray"]:
    """One day of 60 s windows for every kiosk, shape (kiosks, 1440): busy around 13:00, quiet at night,
    busier on Saturdays; about 1 feedback press per 50 windows in busy hours."""
    import numpy as np

    hour = np.arange(1440) / 60
    busy = np.clip(1 - np.abs(hour - 13) / 6, 0, None) * (1.4 if day.weekday() == 5 else 1.0)
    n = stores * kiosks
    people = (rng.random((n, 1440)) * 6 * busy + 0.5).astype(np.int64)
    happy = (people * rng.random((n, 1440))).astype(np.int64)
    mood = np.where(people > 0, np.round(happy / np.maximum(people, 1), 3), 0.0)
    fb = [(rng.random((n, 1440)) < rate * busy).astype(np.int64) for rate in (0.01, 0.005, 0.004)]
    return {"people": people, "happy": happy, "mood": mood, "fb_happy": fb[0], "fb_neutral": fb[1], "fb_unhappy": fb[2]}


def _ids(stores: int, kiosks: int) -> list[tuple[str, str]]:
    return [(f"s{s + 1:03d}", f"k{k + 1:02d}") for s in range(stores) for k in range(kiosks)]


def records_of(arrays: dict[str, Any], ids: list[tuple[str, str]], day: datetime, seq: dict[str, int]
               ) -> list[WindowRecord]:
    """The day's windows as the collector would store them."""
    base = day.timestamp()
    out = []
    people, happy, mood = arrays["people"].tolist(), arrays["happy"].tolist(), arrays["mood"].tolist()
    fbh, fbn, fbu = arrays["fb_happy"].tolist(), arrays["fb_neutral"].tolist(), arrays["fb_unhappy"].tolist()
    for i, (store, kiosk) in enumerate(ids):
        n = seq.get(kiosk + store, 0)
        for m in range(1440):
            p, h = people[i][m], happy[i][m]
            start = base + m * 60
            n += 1
            out.append(WindowRecord(store, kiosk, n, start, start + 60, p, {"happy": h, "neutral": p - h} if p else {},
                                    mood[i][m], fbh[i][m], fbn[i][m], fbu[i][m], "bench-1", 1, start + 61))
        seq[kiosk + store] = n
    return out


def rollup_rows_of(arrays: dict[str, Any], ids: list[tuple[str, str]], day: datetime
                   ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The hourly and daily rollup rows (and expression counts) of a day whose raw windows are past retention:
    the same sums central/rollup.py makes, computed with numpy instead of being inserted and rolled."""
    import numpy as np

    base = day.timestamp()
    rows: list[tuple[Any, ...]] = []
    counts: list[tuple[Any, ...]] = []
    weighted = arrays["mood"] * arrays["people"]
    for width, per in ((3600, 60), (86400, 1440)):
        def s(a: Any) -> Any:
            return a.reshape(a.shape[0], -1, per).sum(axis=2)
        people, happy, w = s(arrays["people"]), s(arrays["happy"]), s(weighted)
        peak = arrays["people"].reshape(len(ids), -1, per).max(axis=2)
        fbh, fbn, fbu = s(arrays["fb_happy"]), s(arrays["fb_neutral"]), s(arrays["fb_unhappy"])
        windows = np.full(people.shape, per)
        # the store level (kiosk_id '') that central/rollup.py keeps beside each kiosk's rows
        stores = sorted({store for store, _ in ids})
        member = np.array([[store == st for store, _ in ids] for st in stores], dtype=float)  # (stores, kiosks)
        levels = [(ids, people, happy, w, peak, fbh, fbn, fbu, windows),
                  ([(st, "") for st in stores], member @ people, member @ happy, member @ w,
                   np.stack([peak[member[i] > 0].max(axis=0) for i in range(len(stores))]),
                   member @ fbh, member @ fbn, member @ fbu, member @ windows)]
        for keys, people, happy, w, peak, fbh, fbn, fbu, windows in levels:
            for i, (store, kiosk) in enumerate(keys):
                for j in range(people.shape[1]):
                    start = base + j * width
                    rows.append((store, kiosk, width, start, int(windows[i, j]), int(people[i, j]), int(peak[i, j]),
                                 float(w[i, j]), int(fbh[i, j]), int(fbn[i, j]), int(fbu[i, j])))
                    if people[i, j]:
                        counts.append((store, kiosk, width, start, "happy", int(happy[i, j])))
                        counts.append((store, kiosk, width, start, "neutral", int(people[i, j] - happy[i, j])))
    return rows, counts


def _insert_rollups(store: Any, rows: list[tuple[Any, ...]], counts: list[tuple[Any, ...]]) -> None:
    from central.rollup import _ROLLUP_COLUMNS

    conn = store._conn()
    sql_rows = store._sql(f"INSERT INTO rollups ({_ROLLUP_COLUMNS}) VALUES ({', '.join('?' * 11)})")
    sql_counts = store._sql("INSERT INTO rollup_counts (store_id, kiosk_id, width_s, start, label, n) "
                            "VALUES (?, ?, ?, ?, ?, ?)")
    with store._write_lock:
        if hasattr(conn, "transaction"):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(sql_rows, rows)
                cur.executemany(sql_counts, counts)
        else:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql_rows, rows)
            conn.executemany(sql_counts, counts)
            conn.execute("COMMIT")


def fill(store: Any, args: argparse.Namespace) -> dict[str, Any]:
    """A year as central holds it after a year of running: days inside the raw retention go through the real
    path (insert_windows, then the rollup and pruning after each day); older days are written as the rollup
    rows they would have become (numpy sums, same shape), unless --full sends every day through the real path."""
    import numpy as np

    from central.rollup import RetentionSettings, Rollup

    rollup = Rollup(store, RetentionSettings(raw_days=args.raw_days, hourly_days=max(800, args.raw_days)))
    rng = np.random.default_rng(7)
    ids = _ids(args.stores, args.kiosks_per_store)
    seq: dict[str, int] = {}
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=args.days)
    real_from = 0 if args.full else max(0, args.days - args.raw_days - 1)
    inserted = direct = 0
    t_insert = t_roll = t_direct = 0.0
    started = time.perf_counter()
    for d in range(args.days):
        day = first + timedelta(days=d)
        arrays = day_arrays(args.stores, args.kiosks_per_store, day, rng)
        t0 = time.perf_counter()
        if d < real_from:
            rows, counts = rollup_rows_of(arrays, ids, day)
            _insert_rollups(store, rows, counts)
            direct += arrays["people"].size
            t_direct += time.perf_counter() - t0
            continue
        batch = records_of(arrays, ids, day, seq)
        t0 = time.perf_counter()
        for i in range(0, len(batch), 20_000):
            inserted += store.insert_windows(batch[i:i + 20_000])
        t1 = time.perf_counter()
        rollup.run_once(now=(day + timedelta(days=1, hours=1)).timestamp())
        t_roll += time.perf_counter() - t1
        t_insert += t1 - t0
        if d % 30 == 0:
            log.info("filled %s/%s days (%.0f s)", d + 1, args.days, time.perf_counter() - started)
    rollup.run_once(now=today.timestamp() + 3600)
    rows = store._fetch(store._conn(), "SELECT width_s, count(*) FROM rollups GROUP BY width_s ORDER BY width_s")
    return {"windows_through_real_path": inserted, "windows_as_direct_rollups": direct,
            "raw_windows_kept": store.count_windows(), "rollup_rows": {str(w): int(n) for w, n in rows},
            "insert_windows_per_s": round(inserted / t_insert) if t_insert else None,
            "rollup_windows_per_s": round(inserted / t_roll) if t_roll else None,
            "fill_s": round(time.perf_counter() - started, 1)}


def _timed(get: Callable[[], Any], rounds: int) -> dict[str, float]:
    get()  # warm-up (connection, caches)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        response = get()
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise CentralError(f"benchmark request failed: {response.status_code} {response.text[:200]}")
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def measure(store: Any, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Start the real app (uvicorn, in a thread) and time the history API and the page."""
    import httpx
    import uvicorn

    from central.auth import UserDirectory
    from devtools.devservices import free_port, wait_for_port
    from central.history import History
    from central.rollup import RetentionSettings
    from central.web.app import create_app
    from central.web.events import EventHub
    from central.web.server import DashboardServer

    users = UserDirectory(workdir / "users.json")
    users.set_user("office", PASSWORD, ["*"])
    users.set_user("manager", PASSWORD, ["s001"])
    hub = EventHub()
    app = create_app(store, users, hub, history=History(store, RetentionSettings(raw_days=args.raw_days)))
    port = free_port()
    server = DashboardServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                            access_log=False, timeout_graceful_shutdown=1), hub)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port, 20)
    base = f"http://127.0.0.1:{port}"
    today = datetime.now(timezone.utc).date()
    last_month = (today.replace(day=1) - timedelta(days=1)).isoformat()
    a_year_ago = (today - timedelta(days=args.days - 1)).isoformat()
    figures: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=base, timeout=60,
                          headers={"Authorization": f"Bearer {users.new_token('office')}"}) as client:
            tz = "Europe/Berlin"
            figures["month_view"] = _timed(lambda: client.get(
                "/api/stores/s001/period", params={"period": "month", "date": last_month, "tz": tz}), args.rounds)
            figures["heatmap_year"] = _timed(lambda: client.get(
                "/api/stores/s001/heatmap", params={"from": a_year_ago, "to": today.isoformat(), "tz": tz}), args.rounds)
            figures["heatmap_8_weeks"] = _timed(lambda: client.get(
                "/api/stores/s001/heatmap", params={"to": today.isoformat(), "tz": tz}), args.rounds)
            figures["compare_month_all_stores"] = _timed(lambda: client.get(
                "/api/compare", params={"period": "month", "date": last_month, "tz": tz}), args.rounds)
            figures["day_view_today_raw"] = _timed(lambda: client.get(
                "/api/stores/s001/period", params={"period": "day", "date": (today - timedelta(days=1)).isoformat(),
                                                   "tz": tz}), args.rounds)
            figures["live_day_chart_past_raw"] = _timed(lambda: client.get(
                "/api/stores/s001/day", params={"date": (today - timedelta(days=200)).isoformat(), "tz": tz}),
                args.rounds)
        if not args.no_browser:
            figures["page_load_ms"] = page_load(base, args.rounds, last_month)
    finally:
        server.should_exit = True
        thread.join(10)
    return figures


def page_load(base: str, rounds: int, month: str) -> dict[str, Any]:
    """Head office's page in headless Chromium: from navigation to every store's month chart and the comparison."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        return {"skipped": f"{CHROMIUM} missing"}
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin")
        page = context.new_page()
        page.goto(base + "/")
        page.fill("#username", "office")
        page.fill("#password", PASSWORD)
        page.click("#signin")
        page.wait_for_selector("table.cmp tr >> nth=10", timeout=60_000)
        for _ in range(rounds):
            t0 = time.perf_counter()
            page.goto(f"{base}/?period=month&date={month}")
            page.wait_for_function(
                "document.querySelectorAll('section.store .stat').length >= 10 * 7 && "
                "document.querySelectorAll('table.cmp tr').length >= 11", timeout=60_000)
            times.append((time.perf_counter() - t0) * 1000)
        browser.close()
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1),
            "what": "load to 10 month views + comparison drawn (head office, 1280 px)"}


def run_one(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    from devtools.devservices import LocalPostgres
    from central.store import open_store

    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        workdir = Path(tmp)
        pg = None
        if kind == "sqlite":
            url = f"sqlite:///{workdir / 'central.db'}"
        elif args.pg_url:
            url = args.pg_url
        else:
            pg = LocalPostgres(fsync=True).start()
            url = pg.create_database("bench_history")
        try:
            store = open_store(url)
            result: dict[str, Any] = {"db": kind}
            result.update(fill(store, args))
            result.update(measure(store, args, workdir))
            store.close()
            return result
        finally:
            if pg is not None:
                pg.stop()


def main(args: argparse.Namespace) -> int:
    for name in ("stores", "kiosks_per_store", "days", "raw_days", "rounds"):
        if getattr(args, name) < 1:
            raise CentralError(f"--{name.replace('_', '-')} must be at least 1")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per timed request otherwise
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = [run_one(kind, args) for kind in kinds]
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"{args.stores} stores x {args.kiosks_per_store} kiosks, {args.days} days of 60 s windows, "
          f"raw kept {args.raw_days} days (timings: median / max of {args.rounds} requests over HTTP)")
    for r in results:
        print(f"\n[{r['db']}] {r['windows_through_real_path']:,} windows through insert+rollup+prune "
              f"({r['insert_windows_per_s']} windows/s insert, {r['rollup_windows_per_s']} windows/s rollup), "
              f"{r['windows_as_direct_rollups']:,} as direct rollups; kept: {r['raw_windows_kept']:,} raw windows, "
              f"rollup rows {r['rollup_rows']}; fill {r['fill_s']} s")
        for key, value in r.items():
            if isinstance(value, dict) and "median_ms" in value:
                extra = f"  ({value['what']})" if "what" in value else ""
                print(f"  {key:28s} {value['median_ms']:>8} / {value['max_ms']:>8} ms{extra}")
            elif isinstance(value, dict) and "skipped" in value:
                print(f"  {key:28s} skipped: {value['skipped']}")
    return 0
