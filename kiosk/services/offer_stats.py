"""Per-day offer counts on the kiosk (card and guest sessions, offers shown by rule/category, feedback after
offers), reported to central as k-anonymous offers.v1 days: a rule/category cell only once k sessions saw it.
Nothing about a card or a shopper is kept: only counters per day, and only for KEEP_DAYS days."""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from contract.offers import FACES, OfferCount, OffersDay
from contract.payloads import MAX_PAYLOAD_BYTES, encode
from kiosk.errors import KioskError
from kiosk.services.private_files import private_sqlite
from kiosk.session import SessionView, State

log = logging.getLogger(__name__)

KEEP_DAYS = 7  # a kiosk offline longer than this loses those days' offer counts (privacy over completeness)
# offers.v1's limits: at most 60 rule/category pairs, 40 characters of category, a suppressed count up to 1000,
# and the whole report within the contract's payload bytes. Cells beyond them count as suppressed.
MAX_CELLS = 60
MAX_CATEGORY = 40
MAX_SUPPRESSED = 1000


class OfferStatsError(KioskError):
    """The offer counter file cannot be opened or written."""


class OfferStats:
    """Counts what shoppers saw; a session listener (`on_view`) plus `on_feedback` from the session."""

    def __init__(self, path: str | Path, store: str, kiosk: str, k: int,
                 today: Callable[[], date] = date.today) -> None:
        self.store, self.kiosk, self.k = store, kiosk, max(2, int(k))
        self._today = today
        self._lock = threading.Lock()
        self._last: SessionView | None = None
        try:
            private_sqlite(Path(path))  # 0600 in a 0700 folder, like every kiosk data file
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS counts (day TEXT NOT NULL, key TEXT NOT NULL, "
                             "n INTEGER NOT NULL, PRIMARY KEY (day, key))")
        except (OSError, sqlite3.Error) as exc:
            raise OfferStatsError(f"offer counts {path}: cannot open ({exc})") from exc

    # ---- inputs (UI thread) --------------------------------------------------------------------------
    def on_view(self, view: SessionView) -> None:
        """A new offers or guest screen is one session; its offers are counted as shown."""
        with self._lock:
            last, self._last = self._last, view
        if view.state not in (State.OFFERS, State.GUEST):
            return
        if last is not None and last.state is view.state and last.entered == view.entered:
            return  # the same screen: extended, its room mood refreshed, its offers reordered or put back
        keys = ["session:card" if view.state is State.OFFERS else "session:guest"]
        # the category as offers.v1 carries it: two alike in their first 40 characters are one cell (counted
        # once per session), never one rule/category pair twice in a report
        cells = [f"{o.rule}:{o.category[:MAX_CATEGORY]}" for o in view.offers]
        keys += [f"shown:{cell}" for cell in cells]  # every offer shown
        keys += [f"seen:{cell}" for cell in dict.fromkeys(cells)]  # once per session: k counts shoppers
        self._add(keys)

    def on_feedback(self, face: str) -> None:
        """Called before the session moves on: counts the press if the shopper had just seen offers."""
        with self._lock:
            last = self._last
        if face in FACES and last is not None and last.state in (State.OFFERS, State.GUEST, State.FEEDBACK) \
                and (last.offers or last.state is State.FEEDBACK):
            self._add([f"feedback:{face}"])

    def _add(self, keys: list[str]) -> None:
        day = self._today().isoformat()
        try:
            with self._lock:
                self._db.execute("BEGIN")
                for key in keys:
                    self._db.execute("INSERT INTO counts (day, key, n) VALUES (?, ?, 1) "
                                     "ON CONFLICT (day, key) DO UPDATE SET n = n + 1", (day, key))
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:  # a broken counter must never disturb the shopper
            log.error("offer counts not saved: %s", exc)

    # ---- reports (any thread) ------------------------------------------------------------------------
    def reports(self, now: datetime | None = None) -> list[OffersDay]:
        """The kept days as offers.v1 values (every count 0 or >= k); older days are forgotten first."""
        now = now or datetime.now(timezone.utc)
        oldest = (self._today() - timedelta(days=KEEP_DAYS - 1)).isoformat()
        with self._lock:
            self._db.execute("DELETE FROM counts WHERE day < ?", (oldest,))
            rows = self._db.execute("SELECT day, key, n FROM counts ORDER BY day").fetchall()
        days: dict[str, dict[str, int]] = {}
        for day, key, n in rows:
            days.setdefault(day, {})[key] = n
        return [self._report(date.fromisoformat(day), counts, now) for day, counts in days.items()]

    def _report(self, day: date, counts: dict[str, int], now: datetime) -> OffersDay:
        suppressed = 0

        def safe(n: int) -> int:
            nonlocal suppressed
            if 0 < n < self.k:
                suppressed += 1
                return 0
            return n

        cells = []
        for key, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            if key.startswith("shown:"):
                rule, _, category = key[6:].partition(":")
                # A cell is published only when k sessions saw it: one shopper shown four offers of a category
                # would otherwise make a cell of 4 >= k about one person. (Days counted before this rule have
                # no `seen:` keys; their cells stay withheld.)
                sessions = counts.get(f"seen:{key[6:]}", 0)
                if 0 < n < self.k or sessions < self.k or len(category) > MAX_CATEGORY:
                    suppressed += 1
                    continue
                cells.append(OfferCount(rule, category, n))
        day_counts = (self.store, self.kiosk, day, now, self.k, safe(counts.get("session:card", 0)),
                      safe(counts.get("session:guest", 0)))
        feedback = {face: safe(counts.get(f"feedback:{face}", 0)) for face in FACES}
        # the largest cells that fit the payload bytes, measured with the largest suppressed count it may carry
        room = MAX_PAYLOAD_BYTES - len(encode(OffersDay(*day_counts, (), feedback, MAX_SUPPRESSED).to_document()))
        shown = []
        for cell in cells:
            size = len(json.dumps({"rule": cell.rule, "category": cell.category, "count": cell.count},
                                  separators=(",", ":"), ensure_ascii=False).encode("utf-8")) + 1  # and a comma
            if len(shown) >= MAX_CELLS or size > room:
                suppressed += 1
                continue
            room -= size
            shown.append(cell)
        return OffersDay(*day_counts, tuple(shown), feedback, min(suppressed, MAX_SUPPRESSED))

    def close(self) -> None:
        with self._lock:
            self._db.close()
