"""Window storage behind one small interface: SQLite (default) and PostgreSQL, with versioned migrations."""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence
from urllib.parse import urlsplit

from central.errors import CentralError
from central.records import Bucket, DeadLetter, KioskState, StoreDay, WindowRecord
from central.sqlite_file_guard import FileGuardedLock
from central.window_order import WindowOutcome, judge

log = logging.getLogger(__name__)

_WINDOW_COLUMNS = (
    "store_id", "kiosk_id", "seq", "window_start", "window_end", "people", "counts", "mood_index",
    "fb_happy", "fb_neutral", "fb_unhappy", "model_version", "merged_windows", "received_at",
)

# A database pruned before pruned_marks existed: a kiosk whose hourly rollups begin at least an hour before
# its first raw window kept had windows pruned up to that first raw window (or, with none left, up to the end
# of its last rolled-up hour). The store-level rows (kiosk_id '') are no kiosk.
_BACKFILL_PRUNED_MARKS = """
    INSERT INTO pruned_marks (store_id, kiosk_id, window_end)
    SELECT store_id, kiosk_id, COALESCE(first_raw, last_rolled) FROM (
        SELECT r.store_id, r.kiosk_id, MIN(r.start) AS first_rolled, MAX(r.start) + 3600 AS last_rolled,
               (SELECT MIN(w.window_start) FROM windows w
                WHERE w.store_id = r.store_id AND w.kiosk_id = r.kiosk_id) AS first_raw
        FROM rollups r WHERE r.width_s = 3600 AND r.kiosk_id <> '' GROUP BY r.store_id, r.kiosk_id) AS k
    WHERE first_raw IS NULL OR first_rolled + 3600 <= first_raw"""

# Versioned migrations: (version, description, statements). Never edit an applied one; append a new one.
_MIGRATIONS_SQLITE: list[tuple[int, str, tuple[str, ...]]] = [
    (1, "windows and kiosks", (
        """CREATE TABLE windows (
            id INTEGER PRIMARY KEY,
            store_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, seq INTEGER NOT NULL,
            window_start REAL NOT NULL, window_end REAL NOT NULL, people INTEGER NOT NULL,
            counts TEXT NOT NULL, mood_index REAL NOT NULL,
            fb_happy INTEGER NOT NULL, fb_neutral INTEGER NOT NULL, fb_unhappy INTEGER NOT NULL,
            model_version TEXT NOT NULL, merged_windows INTEGER NOT NULL, received_at REAL NOT NULL,
            UNIQUE (store_id, kiosk_id, window_start))""",
        "CREATE INDEX windows_store_start ON windows (store_id, window_start)",
        """CREATE TABLE kiosks (
            store_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, online INTEGER, status_at REAL,
            health TEXT, health_at REAL, PRIMARY KEY (store_id, kiosk_id))""",
    )),
    (2, "dead letters", (
        """CREATE TABLE dead_letters (
            id INTEGER PRIMARY KEY, received_at REAL NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
            reason TEXT NOT NULL, detail TEXT NOT NULL)""",
    )),
    (3, "hourly and daily rollups (central/rollup.py)", (  # WITHOUT ROWID: a range read is one contiguous scan
        "ALTER TABLE windows ADD COLUMN rolled INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX windows_unrolled ON windows (store_id, window_start) WHERE rolled = 0",
        """CREATE TABLE rollups (
            store_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, width_s INTEGER NOT NULL, start REAL NOT NULL,
            windows INTEGER NOT NULL, people INTEGER NOT NULL, people_max INTEGER NOT NULL,
            mood_weighted REAL NOT NULL, fb_happy INTEGER NOT NULL, fb_neutral INTEGER NOT NULL,
            fb_unhappy INTEGER NOT NULL, PRIMARY KEY (store_id, width_s, start, kiosk_id)) WITHOUT ROWID""",
        """CREATE TABLE rollup_counts (
            store_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, width_s INTEGER NOT NULL, start REAL NOT NULL,
            label TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (store_id, width_s, start, kiosk_id, label))
            WITHOUT ROWID""",
    )),
    (4, "offers.v1 days (central/offers_store.py)", (
        """CREATE TABLE offer_days (
            store_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, day TEXT NOT NULL, sent_at REAL NOT NULL,
            k INTEGER NOT NULL, card_sessions INTEGER NOT NULL, guest_sessions INTEGER NOT NULL,
            offers_shown TEXT NOT NULL, fb_happy INTEGER NOT NULL, fb_neutral INTEGER NOT NULL,
            fb_unhappy INTEGER NOT NULL, suppressed INTEGER NOT NULL, received_at REAL NOT NULL,
            PRIMARY KEY (store_id, day, kiosk_id))""",
    )),
    (5, "alerts (central/alerts.py)", (
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY, key TEXT NOT NULL, kind TEXT NOT NULL, store_id TEXT, kiosk_id TEXT,
            message TEXT NOT NULL, opened_at REAL NOT NULL, closed_at REAL, notified_at REAL)""",
        "CREATE INDEX alerts_open ON alerts (closed_at, key)",
    )),
    (6, "pruned_marks: up to where each kiosk's raw windows were pruned (central/window_order.py)", (
        """CREATE TABLE pruned_marks (
            store_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, window_end REAL NOT NULL,
            PRIMARY KEY (store_id, kiosk_id)) WITHOUT ROWID""",
        _BACKFILL_PRUNED_MARKS,
    )),
]
_MIGRATIONS_POSTGRES: list[tuple[int, str, tuple[str, ...]]] = [
    (1, "windows and kiosks", (
        """CREATE TABLE windows (
            id BIGSERIAL PRIMARY KEY,
            store_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, seq BIGINT NOT NULL,
            window_start DOUBLE PRECISION NOT NULL, window_end DOUBLE PRECISION NOT NULL, people INTEGER NOT NULL,
            counts JSONB NOT NULL, mood_index DOUBLE PRECISION NOT NULL,
            fb_happy INTEGER NOT NULL, fb_neutral INTEGER NOT NULL, fb_unhappy INTEGER NOT NULL,
            model_version TEXT NOT NULL, merged_windows INTEGER NOT NULL, received_at DOUBLE PRECISION NOT NULL,
            UNIQUE (store_id, kiosk_id, window_start))""",
        "CREATE INDEX windows_store_start ON windows (store_id, window_start)",
        """CREATE TABLE kiosks (
            store_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, online BOOLEAN, status_at DOUBLE PRECISION,
            health JSONB, health_at DOUBLE PRECISION, PRIMARY KEY (store_id, kiosk_id))""",
    )),
    (2, "dead letters", (
        """CREATE TABLE dead_letters (
            id BIGSERIAL PRIMARY KEY, received_at DOUBLE PRECISION NOT NULL, topic TEXT NOT NULL,
            payload BYTEA NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL)""",
    )),
    (3, "hourly and daily rollups (central/rollup.py)", (
        "ALTER TABLE windows ADD COLUMN rolled SMALLINT NOT NULL DEFAULT 0",
        "CREATE INDEX windows_unrolled ON windows (store_id, window_start) WHERE rolled = 0",
        """CREATE TABLE rollups (
            store_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, width_s INTEGER NOT NULL, start DOUBLE PRECISION NOT NULL,
            windows BIGINT NOT NULL, people BIGINT NOT NULL, people_max INTEGER NOT NULL,
            mood_weighted DOUBLE PRECISION NOT NULL, fb_happy BIGINT NOT NULL, fb_neutral BIGINT NOT NULL,
            fb_unhappy BIGINT NOT NULL, PRIMARY KEY (store_id, width_s, start, kiosk_id))""",
        """CREATE TABLE rollup_counts (
            store_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, width_s INTEGER NOT NULL, start DOUBLE PRECISION NOT NULL,
            label TEXT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (store_id, width_s, start, kiosk_id, label))""",
    )),
    (4, "offers.v1 days (central/offers_store.py)", (
        """CREATE TABLE offer_days (
            store_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, day TEXT NOT NULL, sent_at DOUBLE PRECISION NOT NULL,
            k INTEGER NOT NULL, card_sessions INTEGER NOT NULL, guest_sessions INTEGER NOT NULL,
            offers_shown JSONB NOT NULL, fb_happy INTEGER NOT NULL, fb_neutral INTEGER NOT NULL,
            fb_unhappy INTEGER NOT NULL, suppressed INTEGER NOT NULL, received_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (store_id, day, kiosk_id))""",
    )),
    (5, "alerts (central/alerts.py)", (
        """CREATE TABLE alerts (
            id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL, kind TEXT NOT NULL, store_id TEXT, kiosk_id TEXT,
            message TEXT NOT NULL, opened_at DOUBLE PRECISION NOT NULL, closed_at DOUBLE PRECISION,
            notified_at DOUBLE PRECISION)""",
        "CREATE INDEX alerts_open ON alerts (closed_at, key)",
    )),
    (6, "pruned_marks: up to where each kiosk's raw windows were pruned (central/window_order.py)", (
        """CREATE TABLE pruned_marks (
            store_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, window_end DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (store_id, kiosk_id))""",
        _BACKFILL_PRUNED_MARKS,
    )),
]


class StoreError(CentralError):
    """The database URL is wrong or the database cannot be reached or migrated."""


class Store(Protocol):
    """What the collector and the web API need from storage. Methods may be called from several threads."""

    def migrate(self) -> int: ...
    def insert_windows(self, records: Sequence[WindowRecord]) -> int: ...
    def store_windows(self, records: Sequence[WindowRecord]) -> list[WindowOutcome]: ...
    def add_dead_letter(self, letter: DeadLetter) -> None: ...
    def dead_letters(self, limit: int = 100) -> list[DeadLetter]: ...
    def is_transient(self, exc: BaseException) -> bool: ...
    def set_status(self, store: str, kiosk: str, online: bool, at: float) -> None: ...
    def set_health(self, store: str, kiosk: str, health: dict[str, Any], at: float) -> None: ...
    def kiosks(self, stores: Iterable[str] | None = None) -> list[KioskState]: ...
    def store_ids(self) -> list[str]: ...
    def store_day(self, store: str, day_start: float, bucket_s: int = 900) -> StoreDay: ...
    def count_windows(self) -> int: ...
    def close(self) -> None: ...


class _SqlStore:
    """Shared SQL for both backends; subclasses give connections, placeholders and dialect bits."""

    placeholder = "?"
    migrations: list[tuple[int, str, tuple[str, ...]]] = []
    bucket_expr = "CAST(window_start / {b} AS INTEGER) * {b}"

    def __init__(self) -> None:
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._conns_lock = threading.Lock()
        self._conns: list[Any] = []

    def _connect(self) -> Any:
        raise NotImplementedError

    def _usable(self, conn: Any) -> bool:
        """False for a connection that must be replaced (PostgreSQL: server restarted or network cut)."""
        return True

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and not self._usable(conn):
            log.warning("database connection lost; reconnecting")
            with self._conns_lock:
                if conn in self._conns:
                    self._conns.remove(conn)
            conn = None
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def _sql(self, text: str) -> str:
        return text.replace("?", self.placeholder)

    def migrate(self) -> int:
        """Apply pending migrations in order; returns the schema version now in place."""
        conn = self._conn()
        with self._write_lock:
            self._execute_script(conn, [
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "description TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
            ])
            applied = {row[0] for row in self._fetch(conn, "SELECT version FROM schema_migrations")}
            for version, description, statements in self.migrations:
                if version in applied:
                    continue
                log.info("applying schema migration %s: %s", version, description)
                self._execute_script(conn, list(statements) + [
                    self._sql("INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)")
                ], (version, description, time.time()))
            return max([v for v, _, _ in self.migrations], default=0)

    def _execute_script(self, conn: Any, statements: list[str], last_params: tuple[Any, ...] = ()) -> None:
        raise NotImplementedError

    def _fetch(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = conn.execute(self._sql(sql), params)
        rows = cur.fetchall()
        return rows

    def _rows(self, records: Sequence[WindowRecord]) -> list[tuple[Any, ...]]:
        return [
            (r.store, r.kiosk, r.seq, r.start, r.end, r.people, json.dumps(dict(r.counts), separators=(",", ":")),
             r.mood_index, r.feedback_happy, r.feedback_neutral, r.feedback_unhappy, r.model_version,
             r.merged_windows, r.received_at)
            for r in records
        ]

    def _neighbours(self, conn: Any, new: WindowRecord) -> tuple[WindowRecord | None, WindowRecord | None]:
        cols = ", ".join(_WINDOW_COLUMNS)
        key = "FROM windows WHERE store_id = ? AND kiosk_id = ? AND window_start"
        before = conn.execute(self._sql(f"SELECT {cols} {key} <= ? ORDER BY window_start DESC LIMIT 1"),
                              (new.store, new.kiosk, new.start)).fetchone()
        after = conn.execute(self._sql(f"SELECT {cols} {key} > ? ORDER BY window_start LIMIT 1"),
                             (new.store, new.kiosk, new.start)).fetchone()
        return (self._record(before) if before else None), (self._record(after) if after else None)

    def _pruned_until(self, conn: Any, new: WindowRecord) -> float | None:
        """The end of the kiosk's latest pruned raw window (read after the neighbours: a prune committed in
        between shows here), or None when none was pruned."""
        row = conn.execute(self._sql("SELECT window_end FROM pruned_marks WHERE store_id = ? AND kiosk_id = ?"),
                           (new.store, new.kiosk)).fetchone()
        return float(row[0]) if row else None

    def _place(self, conn: Any, records: Sequence[WindowRecord]) -> list[WindowOutcome]:
        """Judge each window against its stored neighbours and insert the accepted ones (inside the caller's
        transaction, so later windows of the batch see the earlier ones)."""
        sql = self._sql(f"INSERT INTO windows ({', '.join(_WINDOW_COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(_WINDOW_COLUMNS))})")
        outcomes = []
        for record, row in zip(records, self._rows(records)):
            before, after = self._neighbours(conn, record)
            outcome = judge(record, before, after, self._pruned_until(conn, record))
            if outcome is WindowOutcome.STORED:
                conn.execute(sql, row)
            outcomes.append(outcome)
        return outcomes

    def add_dead_letter(self, letter: DeadLetter) -> None:
        self._write("INSERT INTO dead_letters (received_at, topic, payload, reason, detail) VALUES (?, ?, ?, ?, ?)",
                    (letter.received_at, _text(letter.topic), bytes(letter.payload), _text(letter.reason),
                     _text(letter.detail)))

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters first."""
        rows = self._fetch(self._conn(), "SELECT received_at, topic, payload, reason, detail FROM dead_letters "
                                         "ORDER BY id DESC LIMIT ?", (int(limit),))
        return [DeadLetter(float(r[0]), r[1], bytes(r[2]), r[3], r[4]) for r in rows]

    def set_status(self, store: str, kiosk: str, online: bool, at: float) -> None:
        self._write(
            "INSERT INTO kiosks (store_id, kiosk_id, online, status_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (store_id, kiosk_id) DO UPDATE SET online = excluded.online, status_at = excluded.status_at",
            (store, kiosk, online, at),
        )

    def set_health(self, store: str, kiosk: str, health: dict[str, Any], at: float) -> None:
        self._write(
            "INSERT INTO kiosks (store_id, kiosk_id, health, health_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (store_id, kiosk_id) DO UPDATE SET health = excluded.health, health_at = excluded.health_at",
            (store, kiosk, json.dumps(health), at),
        )

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        raise NotImplementedError

    def store_ids(self) -> list[str]:
        rows = self._fetch(self._conn(), "SELECT store_id FROM kiosks UNION SELECT DISTINCT store_id FROM windows")
        return sorted(r[0] for r in rows)

    def count_windows(self) -> int:
        return int(self._fetch(self._conn(), "SELECT count(*) FROM windows")[0][0])

    def kiosks(self, stores: Iterable[str] | None = None) -> list[KioskState]:
        """Every known kiosk (from status/health or windows) with its latest window, optionally for some stores."""
        wanted = None if stores is None else sorted(set(stores))
        if wanted == []:
            return []
        where, params = "", []
        if wanted is not None:
            where = "WHERE store_id IN (" + ",".join("?" * len(wanted)) + ")"
            params = list(wanted)
        conn = self._conn()
        by_key = {(r[0], r[1]): self._record(r) for r in self._latest_windows(conn, wanted)}
        states = {}
        for store, kiosk, online, status_at, health, health_at in self._fetch(
            conn, f"SELECT store_id, kiosk_id, online, status_at, health, health_at FROM kiosks {where}", params
        ):
            health_doc = json.loads(health) if isinstance(health, str) else health
            states[(store, kiosk)] = KioskState(
                store, kiosk, None if online is None else bool(online), status_at, health_doc, health_at,
                by_key.get((store, kiosk)),
            )
        for key, record in by_key.items():
            if key not in states:
                states[key] = KioskState(key[0], key[1], None, None, None, None, record)
        return [states[k] for k in sorted(states)]

    def _latest_windows(self, conn: Any, stores: list[str] | None) -> list[tuple[Any, ...]]:
        """Each kiosk's newest window by index seeks on UNIQUE (store_id, kiosk_id, window_start): a few per
        kiosk, where max() per group read every kept window (~2.5 million with 50 kiosks and 35 raw days)."""
        cols = ", ".join(_WINDOW_COLUMNS)
        if stores is None:
            stores, last = [], ""
            while True:
                row = self._fetch(conn, "SELECT min(store_id) FROM windows WHERE store_id > ?", (last,))
                if not row or row[0][0] is None:
                    break
                last = row[0][0]
                stores.append(last)
        keys: list[tuple[str, str]] = []
        for store in stores:
            kiosk = ""
            while True:
                row = self._fetch(conn, "SELECT min(kiosk_id) FROM windows WHERE store_id = ? AND kiosk_id > ?",
                                  (store, kiosk))
                if not row or row[0][0] is None:
                    break
                kiosk = row[0][0]
                keys.append((store, kiosk))
        out = []
        for store, kiosk in keys:
            out += self._fetch(conn, f"SELECT {cols} FROM windows WHERE store_id = ? AND kiosk_id = ? "
                                     "ORDER BY window_start DESC LIMIT 1", (store, kiosk))
        return out

    @staticmethod
    def _record(row: Sequence[Any]) -> WindowRecord:
        counts = json.loads(row[6]) if isinstance(row[6], str) else row[6]
        return WindowRecord(row[0], row[1], int(row[2]), float(row[3]), float(row[4]), int(row[5]), counts,
                            float(row[7]), int(row[8]), int(row[9]), int(row[10]), row[11], int(row[12]), float(row[13]))

    def store_day(self, store: str, day_start: float, bucket_s: int = 900) -> StoreDay:
        """A store's day from `day_start` (epoch, the caller picks the time zone): chart buckets and totals."""
        conn = self._conn()
        day_end = day_start + 86400
        bucket = self.bucket_expr.format(b=int(bucket_s))
        rows = self._fetch(
            conn,
            f"SELECT {bucket} AS b, sum(people), sum(mood_index * people), count(*), sum(fb_happy), sum(fb_neutral), "
            "sum(fb_unhappy) FROM windows WHERE store_id = ? AND window_start >= ? AND window_start < ? "
            "GROUP BY b ORDER BY b",
            (store, day_start, day_end),
        )
        buckets = tuple(
            Bucket(float(b), int(people or 0), (float(weighted) / people) if people else None, int(n),
                   {"happy": int(h or 0), "neutral": int(nu or 0), "unhappy": int(u or 0)})
            for b, people, weighted, n, h, nu, u in rows
        )
        counts: dict[str, int] = {}
        for (raw,) in self._fetch(
            conn, "SELECT counts FROM windows WHERE store_id = ? AND window_start >= ? AND window_start < ?",
            (store, day_start, day_end),
        ):
            for label, n in (json.loads(raw) if isinstance(raw, str) else raw).items():
                counts[label] = counts.get(label, 0) + int(n)
        feedback = {face: sum(b.feedback[face] for b in buckets) for face in ("happy", "neutral", "unhappy")}
        return StoreDay(store, day_start, bucket_s, buckets, counts, feedback,
                        sum(b.people for b in buckets), sum(b.windows for b in buckets))

    def close(self) -> None:
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.close()
            except Exception:  # closing from another thread may fail for SQLite; the process ends anyway
                log.debug("closing a database connection failed", exc_info=True)


class SQLiteStore(_SqlStore):
    """One SQLite file in WAL mode: one writer (the collector), many readers (the API threads)."""

    migrations = _MIGRATIONS_SQLITE

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._write_lock = FileGuardedLock(self.path, self._detach_wal)  # type: ignore[assignment]  # checks the file
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn()
            self._write_lock.remember()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"database {self.path}: cannot open ({exc})") from exc

    def _detach_wal(self) -> None:
        """The file at our path was replaced: move our write-ahead log into our (old) file and empty it."""
        self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes, fast commits
        return conn

    def _execute_script(self, conn: Any, statements: list[str], last_params: tuple[Any, ...] = ()) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for i, statement in enumerate(statements):
                conn.execute(statement, last_params if (i == len(statements) - 1 and last_params) else ())
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def insert_windows(self, records: Sequence[WindowRecord]) -> int:
        """Insert a batch in one transaction; a window already stored is skipped. Returns how many were new."""
        if not records:
            return 0
        conn = self._conn()
        sql = (f"INSERT INTO windows ({', '.join(_WINDOW_COLUMNS)}) VALUES ({', '.join('?' * len(_WINDOW_COLUMNS))}) "
               "ON CONFLICT (store_id, kiosk_id, window_start) DO NOTHING")
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.executemany(sql, self._rows(records))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return int(cur.rowcount)

    def store_windows(self, records: Sequence[WindowRecord]) -> list[WindowOutcome]:
        """Store a batch in one transaction under the ordering rule; one outcome per record, in order.
        BEGIN IMMEDIATE takes SQLite's write lock, so collector processes judge one after the other."""
        if not records:
            return []
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                outcomes = self._place(conn, records)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return outcomes

    def is_transient(self, exc: BaseException) -> bool:
        """Locked, busy, full or unreadable database: worth retrying. Anything else is about the row."""
        return isinstance(exc, sqlite3.OperationalError)

    def is_database_error(self, exc: BaseException) -> bool:
        """Any error SQLite raised (as opposed to a bug of ours)."""
        return isinstance(exc, sqlite3.Error)

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        with self._write_lock:
            self._conn().execute(sql, tuple(int(p) if isinstance(p, bool) else p for p in params))


class PostgresStore(_SqlStore):
    """PostgreSQL via psycopg 3, one connection per thread; batches go in with COPY + INSERT ... ON CONFLICT."""

    placeholder = "%s"
    migrations = _MIGRATIONS_POSTGRES
    bucket_expr = "CAST(floor(window_start / {b}) AS BIGINT) * {b}"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        try:
            import psycopg
        except ImportError as exc:
            raise StoreError("a postgresql:// database needs psycopg: pip install 'moodkiosk[central]'") from exc
        self._psycopg = psycopg
        try:
            self._conn()
        except psycopg.Error as exc:
            first = (_scrub(str(exc), url).strip().splitlines() or [type(exc).__name__])[0]
            raise StoreError(f"database {_redact(url)}: cannot connect ({first})") from exc

    def _connect(self) -> Any:
        return self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    def _usable(self, conn: Any) -> bool:
        return not (conn.closed or conn.broken)

    def _execute_script(self, conn: Any, statements: list[str], last_params: tuple[Any, ...] = ()) -> None:
        with conn.transaction():
            for i, statement in enumerate(statements):
                conn.execute(statement, last_params if (i == len(statements) - 1 and last_params) else None)

    def insert_windows(self, records: Sequence[WindowRecord]) -> int:
        """COPY the batch into a per-connection temporary table, then one INSERT ... ON CONFLICT DO NOTHING:
        ~8 us of client CPU a window against ~27 us for INSERT ... SELECT unnest(arrays)."""
        if not records:
            return 0
        conn = self._conn()
        columns = ", ".join(_WINDOW_COLUMNS)
        with self._write_lock, conn.transaction():
            cur = conn.cursor()
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS windows_in (store_id text, kiosk_id text, seq bigint, "
                "window_start float8, window_end float8, people int, counts jsonb, mood_index float8, fb_happy int, "
                "fb_neutral int, fb_unhappy int, model_version text, merged_windows int, received_at float8) "
                "ON COMMIT DELETE ROWS"
            )
            with cur.copy(f"COPY windows_in ({columns}) FROM STDIN") as copy:
                for row in self._rows(records):
                    copy.write_row(row)
            cur.execute(f"INSERT INTO windows ({columns}) SELECT {columns} FROM windows_in "
                        "ON CONFLICT (store_id, kiosk_id, window_start) DO NOTHING")
            return int(cur.rowcount)

    def store_windows(self, records: Sequence[WindowRecord]) -> list[WindowOutcome]:
        """Store a batch in one transaction under the ordering rule; one outcome per record, in order.
        A transaction-scoped advisory lock per kiosk (taken in sorted order: no deadlock) makes collector
        processes judge one kiosk's windows one after the other."""
        if not records:
            return []
        conn = self._conn()
        with self._write_lock, conn.transaction():
            for store, kiosk in sorted({(r.store, r.kiosk) for r in records}):
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{store}/{kiosk}",))
            return self._place(conn, records)

    def is_transient(self, exc: BaseException) -> bool:
        """Server away, connection cut, serialization conflict: worth retrying. Anything else is about the row."""
        return isinstance(exc, self._psycopg.OperationalError)

    def is_database_error(self, exc: BaseException) -> bool:
        """Any error psycopg raised (as opposed to a bug of ours)."""
        return isinstance(exc, self._psycopg.Error)

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        self._retrying(lambda conn: conn.execute(self._sql(sql), params))

    def _fetch(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._retrying(lambda c: c.execute(self._sql(sql), params or None).fetchall(), conn)

    def _retrying(self, run: Callable[[Any], Any], conn: Any = None) -> Any:
        """Run once more on a fresh connection when the server dropped this one (restart, failover)."""
        conn = conn or self._conn()
        try:
            return run(conn)
        except self._psycopg.OperationalError:
            if self._usable(conn):
                raise
            return run(self._conn())


def _text(value: str) -> str:
    """Text any database takes: valid UTF-8 without NUL (PostgreSQL refuses both, SQLite the first)."""
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _redact(url: str) -> str:
    """The URL for a message, without its password; total, since it also names URLs that do not parse."""
    try:
        password = urlsplit(url).password
    except ValueError:  # "postgresql://[::1": no password can be told apart, so hide all before the host
        scheme, sep, rest = url.partition("://")
        return f"{scheme}{sep}***@{rest.rsplit('@', 1)[-1]}" if "@" in rest else url
    return url.replace(f":{password}@", ":***@") if password else url


def _scrub(text: str, url: str) -> str:
    """A driver's message without the URL's password (libpq quotes a URL it cannot parse whole)."""
    text = text.replace(url, _redact(url))
    try:
        password = urlsplit(url).password
    except ValueError:
        password = url.partition("://")[2].rpartition("@")[0].partition(":")[2] or None
    return text.replace(password, "***") if password else text


def sqlite_path(url: str) -> str:
    """The file a SQLite URL names, the SQLAlchemy way: sqlite:///var/c.db is the relative var/c.db,
    sqlite:////var/c.db the absolute /var/c.db; a plain path is itself."""
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
    if not path.strip("/"):
        raise StoreError(f"database URL {url!r}: no file named; use sqlite:///relative/path.db or sqlite:////abs/path.db")
    return path


_BACKENDS: dict[str, Callable[[str], _SqlStore]] = {
    "sqlite": lambda url: SQLiteStore(sqlite_path(url)),
    "postgresql": PostgresStore,
    "postgres": PostgresStore,
}


def open_store(url: str) -> _SqlStore:
    """Open and migrate the store a URL names: sqlite:///path/file.db, a plain path, or postgresql://..."""
    scheme = url.split("://", 1)[0] if "://" in url else "sqlite"
    if scheme not in _BACKENDS:
        raise StoreError(f"database URL {_redact(url)!r}: scheme {scheme!r} is not one of sqlite, postgresql")
    if scheme == "sqlite" and url.startswith("sqlite://") and not url.startswith("sqlite:///"):
        raise StoreError(f"database URL {url!r}: use sqlite:///relative/path.db or sqlite:////absolute/path.db")
    store = _BACKENDS[scheme](url)
    try:
        store.migrate()
    except Exception as exc:
        if not store.is_database_error(exc):
            raise
        store.close()
        first = (_scrub(str(exc), url).strip().splitlines() or [type(exc).__name__])[0]
        raise StoreError(f"database {_redact(url)}: cannot bring it to this version's schema ({first}); is it "
                         "another application's database, or is it read-only?") from exc
    return store
