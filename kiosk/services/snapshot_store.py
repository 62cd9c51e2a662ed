"""The kiosk's imported offer snapshots: the current one and the previous one (for rollback), in one SQLite file.

Why a file of its own beside the loyalty store: a snapshot is replaced whole, often, and may be large; keeping it
apart leaves the loyalty store's schema and its cached offer model alone. An import reads and checks the
whole snapshot inside one write transaction, so a bad or cut-short file leaves the previous offers in place.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from kiosk.services.damaged_files import check_integrity, open_or_set_aside
from kiosk.services.private_files import private_sqlite
from kiosk.services.offer_snapshot import (
    SnapshotEnd, SnapshotError, SnapshotHeader, SnapshotMember, SnapshotOffer, read_snapshot,
)
from kiosk.services.records import Offer, OfferReason, OfferRule, ReasonKind

logger = logging.getLogger(__name__)
FUTURE_SLACK = timedelta(days=1)  # a snapshot built later than this ahead of the kiosk's clock is refused

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    slot        TEXT PRIMARY KEY,       -- 'current' or 'previous' ('swap' only inside a rollback)
    store_id    TEXT NOT NULL,
    built_at    TEXT NOT NULL,
    built_for   TEXT NOT NULL,
    engine      TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    source      TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    members     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot_offers (
    slot TEXT NOT NULL, offer_id TEXT NOT NULL, title TEXT NOT NULL, titles TEXT NOT NULL, icon TEXT NOT NULL,
    price_cents INTEGER, discount_percent INTEGER, valid_from INTEGER NOT NULL, valid_until INTEGER NOT NULL,
    category TEXT NOT NULL,
    PRIMARY KEY (slot, offer_id)
);
CREATE TABLE IF NOT EXISTS snapshot_member_offers (
    slot TEXT NOT NULL, member TEXT NOT NULL, rank INTEGER NOT NULL, offer_id TEXT NOT NULL,
    rule TEXT NOT NULL, reason TEXT NOT NULL, score REAL NOT NULL,
    PRIMARY KEY (slot, member, rank)
) WITHOUT ROWID;
"""
# Columns added by snapshot format 2 (the shopper reason, the regular price); added to older files on open.
_ADDED_COLUMNS = (
    ("snapshot_offers", "regular_price_cents", "INTEGER"),
    ("snapshot_member_offers", "why_kind", "TEXT"),
    ("snapshot_member_offers", "why_days", "INTEGER"),
    ("snapshot_member_offers", "why_anchor", "TEXT"),
    ("snapshot_member_offers", "why_anchor_offer", "TEXT"),
)


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """What is imported in a slot (for the CLI, logs and the watcher's "is this newer" check)."""

    slot: str
    store_id: str
    built_at: datetime
    built_for: date
    engine: str
    sha256: str
    source: str
    members: int


class SnapshotStore:
    """Current and previous offer snapshot; thread-safe (the writing connection behind one lock, lookups on a
    reading connection behind another)."""

    def __init__(self, path: str | Path, store_id: str) -> None:
        self.path = Path(path)
        self.store_id = store_id
        self._lock = threading.RLock()
        # Damaged by a power cut: the snapshots are central's, the next one comes from snapshot_dir or
        # `import-offers`; until then the local engine serves every member. Never a kiosk that will not start.
        try:
            self._db, aside = open_or_set_aside(self.path, self._open)
        except (sqlite3.Error, OSError) as exc:
            raise SnapshotError(f"offer snapshot store {self.path}: cannot open: {exc}") from exc
        if aside is not None:
            logger.error("offer snapshot store %s: offers come from the local engine until the next snapshot is "
                         "imported", self.path)
        # Lookups (a shopper's card scan, on the screen's thread) read the last committed snapshot on a connection
        # of their own: with one connection behind one lock they waited for a whole import (WAL lets them not).
        self._read_lock = threading.Lock()
        try:
            self._reader = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            self._db.close()
            raise SnapshotError(f"offer snapshot store {self.path}: cannot open: {exc}") from exc

    def _open(self) -> sqlite3.Connection:
        private_sqlite(self.path)  # 0600 in a 0700 folder, like every kiosk data file
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            for table, column, kind in _ADDED_COLUMNS:
                if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            check_integrity(db)  # a torn file would fail every lookup and every later import
        except BaseException:
            db.close()
            raise
        return db

    def close(self) -> None:
        with self._lock, self._read_lock:
            self._reader.close()
            self._db.close()

    def __enter__(self) -> "SnapshotStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self, slot: str = "current") -> SnapshotInfo | None:
        with self._lock:
            row = self._db.execute(
                "SELECT slot, store_id, built_at, built_for, engine, sha256, source, members FROM snapshots WHERE slot = ?",
                (slot,),
            ).fetchone()
        if row is None:
            return None
        built_at = datetime.fromisoformat(row[2])
        if built_at.tzinfo is None:  # imported before header times had to carry a zone: they were UTC
            built_at = built_at.replace(tzinfo=timezone.utc)
        return SnapshotInfo(row[0], row[1], built_at, date.fromisoformat(row[3]), *row[4:])

    def import_file(self, path: str | Path) -> SnapshotInfo:
        """Check and import a snapshot in one transaction; the current one becomes the previous one.

        Refuses (SnapshotError, nothing changed) another store's snapshot, a damaged one, and one that is
        not newer than the current one's build time (use `rollback` to go back).
        """
        path = Path(path)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise SnapshotError(f"offer snapshot store {self.path}: cannot write: {exc}") from exc
            try:
                info = self._import(path)
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:  # SQLite may have rolled back itself (I/O error, full disk)
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):  # one kind of error for callers (the watcher thread catches it)
                    raise SnapshotError(f"offer snapshot store {self.path}: import failed: {exc}") from exc
                raise
        logger.info("Offer snapshot %s imported: %d members, built %s by %s", path, info.members, info.built_at,
                    info.engine)
        return info

    def _import(self, path: Path) -> SnapshotInfo:
        db = self._db
        current = self.info("current")
        header: SnapshotHeader | None = None
        end: SnapshotEnd | None = None
        offer_rows: list[tuple[object, ...]] = []
        member_rows: list[tuple[object, ...]] = []

        def flush() -> None:
            db.executemany("INSERT INTO snapshot_member_offers (slot, member, rank, offer_id, rule, reason, score,"
                           " why_kind, why_days, why_anchor, why_anchor_offer)"
                           " VALUES ('incoming', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", member_rows)
            member_rows.clear()

        try:
            db.execute("DELETE FROM snapshot_offers WHERE slot = 'incoming'")
            db.execute("DELETE FROM snapshot_member_offers WHERE slot = 'incoming'")
            for line in read_snapshot(path):
                if isinstance(line, SnapshotHeader):
                    header = line
                    if header.store_id != self.store_id:
                        raise SnapshotError(
                            f"{path}: snapshot for store {header.store_id!r}, this kiosk is store {self.store_id!r}"
                        )
                    ahead = datetime.now(timezone.utc) + FUTURE_SLACK
                    if header.built_at > ahead:  # imported, it would make every correct snapshot "not newer"
                        raise SnapshotError(
                            f"{path}: built {header.built_at.isoformat()}, more than a day ahead of this kiosk's clock "
                            f"({datetime.now(timezone.utc).isoformat(timespec='seconds')}): central's clock or this "
                            "kiosk's is wrong; nothing changed"
                        )
                    if current is not None and header.built_at <= current.built_at:
                        raise SnapshotError(
                            f"{path}: built {header.built_at.isoformat()}, not newer than the current snapshot "
                            f"({current.built_at.isoformat()}); nothing changed"
                        )
                elif isinstance(line, SnapshotOffer):
                    offer_rows.append((
                        line.offer_id, line.title, json.dumps([list(pair) for pair in line.titles], ensure_ascii=False), line.icon,
                        line.price_cents, line.discount_percent, line.valid_from.toordinal(),
                        line.valid_until.toordinal(), line.category, line.regular_price_cents,
                    ))
                elif isinstance(line, SnapshotMember):
                    member_rows.extend(
                        (line.member, rank, o.offer_id, o.rule, o.reason, o.score,
                         *((o.why.kind, o.why.days, o.why.anchor, o.why.anchor_offer) if o.why else (None,) * 4))
                        for rank, o in enumerate(line.offers)
                    )
                    if len(member_rows) >= 50_000:
                        flush()
                else:
                    end = line
            db.executemany("INSERT INTO snapshot_offers (slot, offer_id, title, titles, icon, price_cents,"
                           " discount_percent, valid_from, valid_until, category, regular_price_cents)"
                           " VALUES ('incoming', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", offer_rows)
            flush()
        except sqlite3.IntegrityError as exc:
            raise SnapshotError(f"{path}: duplicate member or offer ({exc})") from None
        except sqlite3.Error as exc:
            raise SnapshotError(f"offer snapshot store {self.path}: import failed: {exc}") from exc
        assert header is not None and end is not None  # read_snapshot raises otherwise
        for table in ("snapshot_offers", "snapshot_member_offers"):
            db.execute(f"DELETE FROM {table} WHERE slot = 'previous'")
            db.execute(f"UPDATE {table} SET slot = 'previous' WHERE slot = 'current'")
            db.execute(f"UPDATE {table} SET slot = 'current' WHERE slot = 'incoming'")
        db.execute("DELETE FROM snapshots WHERE slot = 'previous'")
        db.execute("UPDATE snapshots SET slot = 'previous' WHERE slot = 'current'")
        imported_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        db.execute(
            "INSERT INTO snapshots VALUES ('current', ?, ?, ?, ?, ?, ?, ?, ?)",
            (header.store_id, header.built_at.isoformat(), header.built_for.isoformat(), header.engine, end.sha256,
             str(path), imported_at, header.members),
        )
        info = self.info("current")
        assert info is not None
        return info

    def rollback(self) -> SnapshotInfo:
        """Swap the current and the previous snapshot (a second rollback undoes the first)."""
        with self._lock:
            if self.info("previous") is None:
                raise SnapshotError(f"offer snapshot store {self.path}: no previous snapshot to roll back to")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for table in ("snapshots", "snapshot_offers", "snapshot_member_offers"):
                    self._db.execute(f"UPDATE {table} SET slot = 'swap' WHERE slot = 'current'")
                    self._db.execute(f"UPDATE {table} SET slot = 'current' WHERE slot = 'previous'")
                    self._db.execute(f"UPDATE {table} SET slot = 'previous' WHERE slot = 'swap'")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            info = self.info("current")
        assert info is not None
        logger.info("Offer snapshot rolled back to the one built %s", info.built_at)
        return info

    def offers_for(self, member: str, today: date, limit: int, language: str | None = None) -> list[Offer] | None:
        """The current snapshot's offers for a member (keyed card hash) valid today, best first; None when the
        snapshot does not cover the member (or has none of their offers valid today)."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT m.offer_id, m.rule, m.reason, m.score, o.title, o.titles, o.icon, o.price_cents,"
                " o.discount_percent, o.valid_until, o.category, o.regular_price_cents,"
                " m.why_kind, m.why_days, m.why_anchor, m.why_anchor_offer, a.titles FROM snapshot_member_offers m"
                " JOIN snapshot_offers o ON o.slot = m.slot AND o.offer_id = m.offer_id"
                " LEFT JOIN snapshot_offers a ON a.slot = m.slot AND a.offer_id = m.why_anchor_offer"
                " WHERE m.slot = 'current' AND m.member = ? AND o.valid_from <= ? AND o.valid_until >= ?"
                " ORDER BY m.rank",
                (member, today.toordinal(), today.toordinal()),
            ).fetchall()
        if not rows:
            return None
        offers = []
        for (offer_id, rule, reason, score, title, titles, icon, price, discount, until, category, regular,
             why_kind, why_days, why_anchor, anchor_offer, anchor_titles) in rows[:max(limit, 0)]:
            translated = {lang: text for lang, text in json.loads(titles)}
            why = None
            if why_kind is not None:
                anchor = why_anchor
                if anchor is not None and anchor_titles is not None:  # the anchor's name in the shopper's language
                    anchor = {lang: text for lang, text in json.loads(anchor_titles)}.get(language or "", anchor)
                why = OfferReason(ReasonKind(why_kind), why_days, anchor, anchor_offer)
            offers.append(Offer(
                offer_id=offer_id, title=translated.get(language or "", title), icon=icon, price_cents=price,
                discount_percent=discount, valid_until=date.fromordinal(until), category=category,
                reason=f"snapshot: {reason}", rule=OfferRule(rule), score=score, why=why, regular_price_cents=regular,
            ))
        return offers
