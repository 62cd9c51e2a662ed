"""On-disk store-and-forward spool of mood windows: written before sending, removed only after PUBACK."""
from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import contract
from kiosk.errors import KioskError
from kiosk.services.damaged_files import SetAside, check_integrity, open_or_set_aside, put_back
from kiosk.services.private_files import SQLITE_SIDE_FILES, private_sqlite

log = logging.getLogger(__name__)

_MAX_SEQ = 2**53 - 1  # mood.v1's largest seq (JSON's exact integers)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS windows (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL, spooled_at REAL NOT NULL, "
    "acked_at REAL)",
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('dropped', 0)",
)


# A window the broker acknowledged is kept this long (at most ACKED_KEEP_MAX of them) and sent again after a
# reconnect: a broker killed before it saved its queue (Mosquitto's autosave_interval, 60 s in our config) has
# lost it although the kiosk had its PUBACK. Central stores a window once, so a repeat costs nothing.
ACKED_KEEP_S = 180.0
ACKED_KEEP_MAX = 1000


def clock_seq_floor() -> int:
    """The lowest seq a fresh spool may hand out: the clock in milliseconds.

    Why: central refuses a seq that does not follow the kiosk's stored windows. A spool file that is new
    because the old one was deleted, damaged or re-imaged would otherwise start again at 1 and have every
    window refused as a replay. One window a minute never catches up with a millisecond clock, so a fresh
    spool started later always continues above everything an earlier one sent (given a set clock)."""
    return max(1, int(time.time() * 1000))


class SpoolError(KioskError):
    """The spool file cannot be opened or written (bad path, full disk, not a spool)."""


@dataclass(frozen=True)
class SpoolRecovery:
    """What opening a damaged spool did: where the damaged file went and what was read back out of it."""

    quarantined_to: Path
    windows_salvaged: int
    next_seq: int


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
        self._forgotten_at = float("-inf")  # when acknowledged windows were last forgotten (time.time())
        self.recovery: SpoolRecovery | None = None
        # A damaged spool must not stop the kiosk (under systemd: a restart loop with a blank screen): it is
        # moved aside, what can still be read is carried over, and a fresh file goes on from there.
        try:
            self._db, aside = open_or_set_aside(self.path, self._open)
        except (sqlite3.Error, OSError) as exc:
            raise SpoolError(f"spool {self.path}: cannot open ({exc})") from exc
        if aside is not None:
            self.recovery = self._recover(aside)

    def _open(self) -> sqlite3.Connection:
        """Connect, set WAL + FULL sync, create the tables, and read the file once end to end."""
        private_sqlite(self.path)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            for statement in _SCHEMA:
                db.execute(statement)
            if "acked_at" not in {row[1] for row in db.execute("PRAGMA table_info(windows)")}:
                db.execute("ALTER TABLE windows ADD COLUMN acked_at REAL")  # a spool written before the column
            # the few acknowledged rows, so that forgetting them at every PUBACK does not scan a backlog of
            # 100,000 waiting windows (the drain fell from ~1,200 to 331 windows/s without it)
            db.execute("CREATE INDEX IF NOT EXISTS windows_acked ON windows (acked_at) WHERE acked_at IS NOT NULL")
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', ?)", (clock_seq_floor(),))
            check_integrity(db)  # damage found now can still be set aside; in the middle of sending it cannot
        except BaseException:
            db.close()
            raise
        return db

    def _recover(self, aside: SetAside) -> SpoolRecovery:
        """Copy the readable windows of the set-aside file into the fresh spool and continue the seq above
        everything the old file may have handed out (central rejects a seq that goes back)."""
        salvaged, old_next = _salvage(aside.kept)
        # The old counter may be unreadable or wrong; the clock floor keeps "strictly increasing" whatever it lost.
        next_seq = max(old_next, max((seq for seq, _ in salvaged), default=0) + 1, clock_seq_floor())
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO windows (seq, payload, spooled_at) VALUES (?, ?, strftime('%s','now'))", salvaged
                )
                self._db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (next_seq,))
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:  # e.g. the disk is full too: the damaged file goes back for the next start,
            self._db.close()          # so that a fresh spool never starts again at seq 1
            put_back(aside.kept, self.path)
            raise SpoolError(f"spool {self.path}: damaged ({aside.cause}), and a fresh spool cannot be written "
                             f"({exc})") from exc
        log.error("spool %s: %d unsent window(s) carried over from %s, seq continues at %d",
                  self.path, len(salvaged), aside.kept, next_seq)
        return SpoolRecovery(aside.kept, len(salvaged), next_seq)

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
                    if self._db.in_transaction:  # SQLite may have rolled back itself (a full disk, an I/O error)
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
        (depth,) = self._db.execute("SELECT count(*) FROM windows WHERE acked_at IS NULL").fetchone()
        excess = depth - self.max_windows
        if excess <= 0:
            return 0
        self._db.execute("DELETE FROM windows WHERE seq IN (SELECT seq FROM windows WHERE acked_at IS NULL "
                         "ORDER BY seq LIMIT ?)", (excess,))
        self._db.execute("UPDATE meta SET value=value+? WHERE key='dropped'", (excess,))
        return excess

    def peek(self, after_seq: int = 0, limit: int = 100, acked_since: float | None = None) -> list[SpoolItem]:
        """The oldest unacknowledged windows with seq > after_seq, in order; with `acked_since` (a time.time())
        also those acknowledged since then (to send again after a reconnect)."""
        if acked_since is None:
            sql, args = "SELECT seq, payload FROM windows WHERE seq > ? AND acked_at IS NULL ORDER BY seq LIMIT ?", (
                after_seq, limit)
        else:
            sql, args = ("SELECT seq, payload FROM windows WHERE seq > ? AND (acked_at IS NULL OR acked_at >= ?) "
                         "ORDER BY seq LIMIT ?", (after_seq, acked_since, limit))
        return [SpoolItem(seq, bytes(payload)) for seq, payload in self._read("read windows", sql, args)]

    def _read(self, what: str, sql: str, args: tuple[object, ...] = ()) -> list[tuple]:
        """A query whose SQLite failure (a page damaged while running, an I/O error) is a SpoolError, so the
        telemetry worker can report it and carry on instead of dying on a foreign exception."""
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise SpoolError(f"spool {self.path}: cannot {what} ({exc})") from exc

    def acknowledge(self, seq: int, now: float | None = None) -> None:
        """The broker acknowledged this window (idempotent): it no longer counts as waiting, and is kept for
        ACKED_KEEP_S to be sent again after a reconnect. Older acknowledged windows are forgotten, at most once a
        second (at every PUBACK that work halved the drain of a backlog)."""
        now = time.time() if now is None else now
        try:
            with self._lock:
                self._db.execute("UPDATE windows SET acked_at=? WHERE seq=?", (now, seq))
                if abs(now - self._forgotten_at) >= 1.0:
                    self._forget_acknowledged(now)
                    self._forgotten_at = now
        except sqlite3.Error as exc:
            raise SpoolError(f"spool {self.path}: cannot mark window {seq} acknowledged ({exc})") from exc

    def _forget_acknowledged(self, now: float) -> None:
        """Acknowledged windows older than ACKED_KEEP_S or beyond the newest ACKED_KEEP_MAX (caller holds the lock)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("DELETE FROM windows WHERE acked_at IS NOT NULL AND acked_at < ?", (now - ACKED_KEEP_S,))
            self._db.execute("DELETE FROM windows WHERE seq IN (SELECT seq FROM windows WHERE acked_at IS NOT NULL "
                             "ORDER BY acked_at DESC LIMIT -1 OFFSET ?)", (ACKED_KEEP_MAX,))
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def depth(self) -> int:
        """Windows waiting for a PUBACK."""
        return int(self._read("count windows", "SELECT count(*) FROM windows WHERE acked_at IS NULL")[0][0])

    def last_seq(self) -> int:
        """The seq of the newest window ever spooled, sent or not (for a new spool: one below its first seq)."""
        return int(self._read("read next_seq", "SELECT value FROM meta WHERE key='next_seq'")[0][0]) - 1

    def dropped(self) -> int:
        """Windows dropped to keep the bound since the spool file was created."""
        return int(self._read("read the drop count", "SELECT value FROM meta WHERE key='dropped'")[0][0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _salvage(path: Path) -> tuple[list[tuple[int, bytes]], int]:
    """The windows still readable in a damaged spool, oldest first, and its next_seq (0 if unreadable).

    Works on a scratch copy (with its WAL): a file whose tail was torn off still claims its old page count in
    the header, and SQLite calls all of it malformed; the copy's header is set to the pages really there.
    Reads the rows in table order and stops at the first unreadable page: what lies beyond stays in the
    quarantined file for a person with `sqlite3 .recover`. Only rows that decode as the mood document of
    their own seq are kept."""
    scratch = path.with_name(path.name + ".salvage")
    rows: list[tuple[int, bytes]] = []
    next_seq = 0
    try:
        _scratch_copy(path, scratch)
        db = sqlite3.connect(scratch)
    except (OSError, sqlite3.Error) as exc:
        log.warning("spool %s: nothing could be read back (%s)", path, exc)
        _remove_scratch(scratch)
        return rows, next_seq
    try:
        try:
            found = db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()
            next_seq = int(found[0]) if found and isinstance(found[0], int) and 0 < found[0] <= _MAX_SEQ else 0
        except sqlite3.Error:
            pass
        found_rows: dict[int, bytes] = {}
        try:
            try:  # the table in its own order, past odd rows; acknowledged windows need not go again
                cursor = db.execute("SELECT seq, payload, acked_at FROM windows")
            except sqlite3.OperationalError:
                cursor = db.execute("SELECT seq, payload, NULL FROM windows")  # a spool from before the column
            while (row := cursor.fetchone()) is not None:
                unsent = row[2] is None
                if unsent and isinstance(row[0], int) and isinstance(row[1], bytes) and _genuine(row[0], row[1]):
                    found_rows[row[0]] = row[1]  # a damaged page can read back as rows never written: checked
        except sqlite3.Error:
            pass  # the rest lies beyond a page SQLite cannot read
        rows = sorted(found_rows.items())
    finally:
        db.close()
        _remove_scratch(scratch)
    return rows, next_seq


def _genuine(seq: int, payload: bytes) -> bool:
    """A salvaged row is carried over only if it is a mood document of its own seq (the contract's decoder)."""
    try:
        return contract.MoodDocument.decode(payload).seq == seq
    except contract.ContractError:
        return False


def _scratch_copy(path: Path, scratch: Path) -> None:
    """Copy the database and its WAL (0600), and cut the header's page count down to the pages in the file."""
    for side in ("", "-wal"):
        source = path.with_name(path.name + side)
        if source.exists():
            target = scratch.with_name(scratch.name + side)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out)
    with open(scratch, "r+b") as handle:
        header = handle.read(100)
        if len(header) < 100 or not header.startswith(b"SQLite format 3\0"):
            return
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        if page_size < 512:
            return
        pages = os.fstat(handle.fileno()).st_size // page_size
        if int.from_bytes(header[28:32], "big") > pages:
            handle.seek(28)
            handle.write(pages.to_bytes(4, "big"))


def _remove_scratch(scratch: Path) -> None:
    for side in ("", *SQLITE_SIDE_FILES):
        try:
            scratch.with_name(scratch.name + side).unlink()
        except FileNotFoundError:
            pass
