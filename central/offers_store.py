"""Keep the kiosks' offers.v1 days (the latest report of a day wins) and read them per store and day."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

from contract.offers import FACES, OffersDay
from central.store import PostgresStore, _SqlStore

_COLUMNS = ("store_id, kiosk_id, day, sent_at, k, card_sessions, guest_sessions, offers_shown, fb_happy, fb_neutral, "
            "fb_unhappy, suppressed, received_at")


def save_offer_days(store: _SqlStore, days: Sequence[OffersDay], received_at: float) -> int:
    """Upsert; an older report arriving after a newer one (redelivery, reordering) changes nothing."""
    if not days:
        return 0
    rows = [(d.store, d.kiosk, d.day.isoformat(), d.sent_at.timestamp(), d.k, d.card_sessions, d.guest_sessions,
             json.dumps([[o.rule, o.category, o.count] for o in d.offers_shown], separators=(",", ":")),
             d.feedback_after_offers["happy"], d.feedback_after_offers["neutral"], d.feedback_after_offers["unhappy"],
             d.suppressed, received_at) for d in days]
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", ")[3:])
    sql = store._sql(f"INSERT INTO offer_days ({_COLUMNS}) VALUES ({', '.join('?' * 13)}) "
                     f"ON CONFLICT (store_id, day, kiosk_id) DO UPDATE SET {updates} "
                     "WHERE excluded.sent_at >= offer_days.sent_at")
    if isinstance(store, PostgresStore):
        def run(conn: Any) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(sql, rows)
        store._retrying(run)
    else:
        with store._write_lock:
            conn = store._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(sql, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
    return len(rows)


@dataclass(frozen=True)
class StoreOffersDay:
    """A store's offer counts on one day, summed over its kiosks (each already k-anonymous)."""

    day: date
    kiosks: int
    card_sessions: int
    guest_sessions: int
    shown_by_rule: dict[str, int]
    shown_by_category: dict[str, int]
    feedback_after_offers: dict[str, int]
    suppressed: int

    def as_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "kiosks": self.kiosks, "card_sessions": self.card_sessions,
                "guest_sessions": self.guest_sessions, "offers_shown": sum(self.shown_by_rule.values()),
                "shown_by_rule": self.shown_by_rule, "shown_by_category": self.shown_by_category,
                "feedback_after_offers": self.feedback_after_offers, "suppressed_counts": self.suppressed}


def store_offer_days(store: _SqlStore, store_id: str, first: date, last: date) -> list[StoreOffersDay]:
    """Per day in [first, last] that has reports: the store's sums."""
    rows = store._fetch(store._conn(), "SELECT day, card_sessions, guest_sessions, offers_shown, fb_happy, fb_neutral, "
                        "fb_unhappy, suppressed FROM offer_days WHERE store_id = ? AND day >= ? AND day <= ? "
                        "ORDER BY day", (store_id, first.isoformat(), last.isoformat()))
    days: dict[str, dict[str, Any]] = {}
    for day, card, guest, shown, happy, neutral, unhappy, suppressed in rows:
        acc = days.setdefault(day, {"kiosks": 0, "card": 0, "guest": 0, "rule": {}, "category": {},
                                    "fb": dict.fromkeys(FACES, 0), "suppressed": 0})
        acc["kiosks"] += 1
        acc["card"] += card
        acc["guest"] += guest
        for rule, category, count in (json.loads(shown) if isinstance(shown, str) else shown):
            acc["rule"][rule] = acc["rule"].get(rule, 0) + count
            acc["category"][category] = acc["category"].get(category, 0) + count
        for face, n in zip(FACES, (happy, neutral, unhappy)):
            acc["fb"][face] += n
        acc["suppressed"] += suppressed
    return [StoreOffersDay(date.fromisoformat(d), a["kiosks"], a["card"], a["guest"], a["rule"], a["category"],
                           a["fb"], a["suppressed"]) for d, a in days.items()]
