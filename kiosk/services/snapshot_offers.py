"""Offers from the chain's imported snapshot, falling back to the kiosk's own engine for members it does not cover.

Why: central computes every member's offers on the chain's whole purchase history (`moodkiosk offers-build`);
the kiosk shows those and keeps its local engine for guests, new members and any time no snapshot is there.
`SnapshotWatcher` imports a newer snapshot dropped into the configured directory, off the UI thread.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Callable

from kiosk.session import OfferSource
from kiosk.services.cards import CardHasher
from kiosk.services.offer_snapshot import SUFFIX, SnapshotError, SnapshotHeader, read_header
from kiosk.services.records import Offer
from kiosk.services.snapshot_store import SnapshotInfo, SnapshotStore

logger = logging.getLogger(__name__)


class SnapshotOfferSource:
    """The session's OfferSource: the snapshot's offers for a covered member, else the local engine's."""

    def __init__(
        self, engine: OfferSource, snapshots: SnapshotStore, card_of: Callable[[int], str | None], hasher: CardHasher
    ) -> None:
        self.engine = engine
        self.snapshots = snapshots
        self._card_of = card_of
        self._hasher = hasher

    def offers_for(self, customer_id: int, today: date, limit: int, language: str | None = None) -> list[Offer]:
        card = self._card_of(customer_id)
        if card is not None:
            try:
                offers = self.snapshots.offers_for(self._hasher(card), today, limit, language)
            except Exception:  # a broken snapshot store must never cost the shopper their offers
                logger.exception("Offer snapshot lookup failed; using the local engine")
                offers = None
            if offers:
                return offers
        return self.engine.offers_for(customer_id, today, limit, language)

    def guest_offers(self, today: date, limit: int, language: str | None = None) -> list[Offer]:
        return self.engine.guest_offers(today, limit, language)


def newer_snapshots(directory: Path, store_id: str, after: datetime | None,
                    refused: "RefusedSnapshots | None" = None) -> list[tuple[Path, SnapshotHeader]]:
    """This store's readable snapshots in `directory` built after `after`, newest first (by the header's build
    time): when the newest fails its checks, the next one may still be newer than what the kiosk has. Files in
    `refused` are passed over, and one whose header cannot be read joins it."""
    try:
        candidates = sorted(directory.glob(f"*{SUFFIX}"))
    except OSError as exc:
        logger.warning("Offer snapshot directory %s unreadable: %s", directory, exc)
        return []
    found = []
    for path in candidates:
        if refused is not None and refused.skip(path):
            continue
        try:
            header = read_header(path)
        except SnapshotError as exc:
            logger.warning("Offer snapshot skipped: %s", exc)
            if refused is not None:
                refused.remember(path, exc)
            continue
        if header.store_id == store_id and (after is None or header.built_at > after):
            found.append((path, header))
    return sorted(found, key=lambda item: item[1].built_at, reverse=True)


class RefusedSnapshots:
    """Snapshot files refused for what they hold, not read again for `retry_s` while they stay unchanged.

    Why: the watcher read a refused file (a 50,000-member one, say) in full at every check and logged the same
    error each time. A refusal because the kiosk's own store could not be written is not remembered (the next
    check may succeed), and a file that changes (same name, new size or time) is tried at once. After `retry_s`
    a file is tried again: a snapshot refused as "ahead of this kiosk's clock" may be right once the clock is."""

    def __init__(self, retry_s: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._retry_s = retry_s
        self._clock = clock
        self._until: dict[tuple[str, int, int], float] = {}

    @staticmethod
    def _mark(path: Path) -> tuple[str, int, int] | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return str(path), stat.st_size, stat.st_mtime_ns

    def skip(self, path: Path) -> bool:
        mark = self._mark(path)
        return mark is not None and self._until.get(mark, float("-inf")) > self._clock()

    def remember(self, path: Path, exc: SnapshotError) -> None:
        mark = self._mark(path)
        if mark is not None and not isinstance(exc.__cause__, sqlite3.Error):
            now = self._clock()
            self._until = {old: until for old, until in self._until.items() if until > now}  # expired ones go
            self._until[mark] = now + self._retry_s


def import_newer(snapshots: SnapshotStore, directory: Path,
                 refused: RefusedSnapshots | None = None) -> SnapshotInfo | None:
    """Import the directory's newest snapshot for this store that is newer than the current one and passes its
    checks; one that fails is logged and the next older (still newer than the current) is tried. With `refused`,
    files refused before (and unchanged) are passed over silently."""
    current = snapshots.info()
    for path, _ in newer_snapshots(directory, snapshots.store_id, None if current is None else current.built_at,
                                   refused):
        try:
            return snapshots.import_file(path)
        except SnapshotError as exc:
            logger.error("Offer snapshot not imported, keeping the previous offers: %s", exc)
            if refused is not None:
                refused.remember(path, exc)
    return None


class SnapshotWatcher:
    """Checks `directory` every `interval_s` seconds on a daemon thread and imports a newer snapshot."""

    def __init__(self, snapshots: SnapshotStore, directory: Path, interval_s: float) -> None:
        self._snapshots = snapshots
        self._directory = directory
        self._interval = interval_s
        self._stop = threading.Event()
        self._refused = RefusedSnapshots()
        self._thread = threading.Thread(target=self._run, name="offer-snapshots", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def check_now(self) -> SnapshotInfo | None:
        try:
            return import_newer(self._snapshots, self._directory, self._refused)
        except SnapshotError as exc:
            logger.error("Offer snapshot check failed: %s", exc)
            return None
        except Exception:  # the watcher thread must outlive any one bad check; the next one may succeed
            logger.exception("Offer snapshot check failed unexpectedly; checking again in %.0f s", self._interval)
            return None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.check_now()
