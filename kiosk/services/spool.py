"""On-disk store-and-forward spool of mood windows: written before sending, removed only after PUBACK."""
from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kiosk.errors import KioskError
from kiosk.services.private_files import private_sqlite

log = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS windows (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL, spooled_at REAL NOT NULL)",
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 1), ('dropped', 0)",
)


class SpoolError(KioskError):
    """The spool file cannot be opened or written (bad path, full disk, not a spool)."""


@dataclass(frozen=True)
class SpoolItem:
    """One spooled window: its sequence number and the exact bytes to publish."""

    seq: int
    payload: bytes


class Spool:
    """Bounded FIFO of encoded windows in SQLite (WAL, synchronous=FULL), so a kill -9 or power cut loses
    nothing that `append` returned for. Sequence numbers are allocated here and never reused, which gives
    the contract's per-kiosk monotonically increasing `seq`. Thread-safe: the caller that closes a window
    appends while the telemetry worker peeks and removes (one lock keeps their transactions apart)."""

    def __init__(self, path: str | Path, max_windows: int) -> None:
        if max_windows < 1:
            raise SpoolError(f"spool_max_windows must be at least 1, got {max_windows}")
        self.path = Path(path)
        self.max_windows = max_windows
        self._lock = threading.RLock()
        try:
            private_sqlite(self.path)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            for statement in _SCHEMA:
                self._db.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(f"spool {self.path}: cannot open ({exc})") from exc

    def append(self, build_payload: Callable[[int], bytes]) -> int:
        """Allocate the next seq, store `build_payload(seq)` durably, drop the oldest beyond the bound.

        Returns the seq. Everything happens in one transaction: a crash leaves either all or nothing."""
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    (seq,) = self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()
                    payload = build_payload(seq)
                    self._db.execute(
                        "INSERT INTO windows (seq, payload, spooled_at) VALUES (?, ?, strftime('%s','now'))",
                        (seq, payload),
                    )
                    self._db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (seq + 1,))
                    dropped = self._enforce_bound()
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise SpoolError(f"spool {self.path}: cannot write a window ({exc})") from exc
        if dropped:
            log.error(
                "spool full (%s windows): dropped the %s oldest unsent window(s); %s dropped in total",
                self.max_windows, dropped, self.dropped(),
            )
        return seq

    def _enforce_bound(self) -> int:
        (depth,) = self._db.execute("SELECT count(*) FROM windows").fetchone()
        excess = depth - self.max_windows
        if excess <= 0:
            return 0
        self._db.execute("DELETE FROM windows WHERE seq IN (SELECT seq FROM windows ORDER BY seq LIMIT ?)", (excess,))
        self._db.execute("UPDATE meta SET value=value+? WHERE key='dropped'", (excess,))
        return excess

    def peek(self, after_seq: int = 0, limit: int = 100) -> list[SpoolItem]:
        """The oldest spooled windows with seq > after_seq, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, payload FROM windows WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
            ).fetchall()
        return [SpoolItem(seq, bytes(payload)) for seq, payload in rows]

    def remove(self, seq: int) -> None:
        """Forget a window the broker acknowledged (idempotent)."""
        try:
            with self._lock:
                self._db.execute("DELETE FROM windows WHERE seq=?", (seq,))
        except sqlite3.Error as exc:
            raise SpoolError(f"spool {self.path}: cannot remove window {seq} ({exc})") from exc

    def depth(self) -> int:
        """Windows waiting for a PUBACK."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM windows").fetchone()[0])

    def last_seq(self) -> int:
        """The seq of the newest window ever spooled (0 for a new spool), sent or not."""
        with self._lock:
            return int(self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0]) - 1

    def dropped(self) -> int:
        """Windows dropped to keep the bound since the spool file was created."""
        with self._lock:
            return int(self._db.execute("SELECT value FROM meta WHERE key='dropped'").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
