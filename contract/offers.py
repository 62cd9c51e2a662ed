"""offers.v1: a kiosk's k-anonymous offer counts for one day, as a typed value both sides build and check."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Mapping

from contract.errors import ContractError
from contract.mood import FEEDBACK_FACES
from contract.payloads import _check, _load, encode, format_utc, parse_utc
from contract.topics import TopicParts

OFFERS_SCHEMA_VERSION = "offers.v1"
FACES = FEEDBACK_FACES


@dataclass(frozen=True)
class OfferCount:
    """Offers chosen by one engine rule in one product category, and how often they were shown."""

    rule: str
    category: str
    count: int


@dataclass(frozen=True)
class OffersDay:
    """One kiosk's offer counts for one local day so far; every count is 0 or at least k."""

    store: str
    kiosk: str
    day: date
    sent_at: datetime
    k: int
    card_sessions: int
    guest_sessions: int
    offers_shown: tuple[OfferCount, ...]
    feedback_after_offers: Mapping[str, int]
    suppressed: int

    def to_document(self) -> dict[str, Any]:
        return {
            "schema_version": OFFERS_SCHEMA_VERSION, "store": self.store, "kiosk": self.kiosk,
            "day": self.day.isoformat(), "sent_at": format_utc(self.sent_at), "k": self.k,
            "sessions": {"card": self.card_sessions, "guest": self.guest_sessions},
            "offers_shown": [{"rule": o.rule, "category": o.category, "count": o.count} for o in self.offers_shown],
            "feedback_after_offers": {face: int(self.feedback_after_offers.get(face, 0)) for face in FACES},
            "suppressed": self.suppressed,
        }


def validate_offers(document: Any, topic: TopicParts | None = None) -> OffersDay:
    """The typed day when `document` follows offers.v1, names the topic's store/kiosk and is k-anonymous."""
    doc = _check(document, OFFERS_SCHEMA_VERSION, "offers.v1.schema.json")
    try:
        day = date.fromisoformat(doc["day"])
    except ValueError:
        raise ContractError("schema", f"day {doc['day']!r} is not a calendar date") from None
    if topic is not None and (doc["store"], doc["kiosk"]) != (topic.store, topic.kiosk):
        raise ContractError("topic_mismatch", f"payload names store/kiosk {doc['store']}/{doc['kiosk']} but came "
                                              f"on the topic of {topic.store}/{topic.kiosk}")
    k = doc["k"]
    counts = [("sessions.card", doc["sessions"]["card"]), ("sessions.guest", doc["sessions"]["guest"])]
    counts += [(f"feedback_after_offers.{f}", doc["feedback_after_offers"][f]) for f in FACES]
    counts += [(f"offers_shown[{o['rule']}/{o['category']}]", o["count"]) for o in doc["offers_shown"]]
    for name, n in counts:
        if 0 < n < k:
            raise ContractError("schema", f"{name} = {n} is below k = {k}: counts must be 0 or at least k")
    keys = [(o["rule"], o["category"]) for o in doc["offers_shown"]]
    if len(set(keys)) != len(keys):
        raise ContractError("schema", "offers_shown names one rule/category pair twice")
    return OffersDay(
        doc["store"], doc["kiosk"], day, parse_utc(doc["sent_at"]), k, doc["sessions"]["card"],
        doc["sessions"]["guest"], tuple(OfferCount(o["rule"], o["category"], o["count"]) for o in doc["offers_shown"]),
        {f: doc["feedback_after_offers"][f] for f in FACES}, doc["suppressed"],
    )


DAYS_KEPT = 7  # a kiosk reports its local today and the days before it, at most this many (kiosk KEEP_DAYS)
_ZONE_AHEAD, _ZONE_BEHIND = timedelta(hours=14), timedelta(hours=12)  # the widest UTC offsets in use


def check_day_reported(day: OffersDay) -> None:
    """A receiver's check that the day is one its kiosk can report at `sent_at`: its local today anywhere on
    Earth, or one of the DAYS_KEPT - 1 days before. Otherwise ContractError("time"): a report about a day that
    has not begun, or about a day long gone, would store counts no kiosk keeps (and, the newest `sent_at`
    winning, would overwrite an accepted past day). Not part of validate_offers, so that a kiosk whose clock
    jumped still publishes (and central tells which report it refused)."""
    latest = (day.sent_at + _ZONE_AHEAD).date()
    earliest = (day.sent_at - _ZONE_BEHIND).date() - timedelta(days=DAYS_KEPT - 1)
    if not earliest <= day.day <= latest:
        raise ContractError("time", f"day {day.day} cannot be reported at sent_at {format_utc(day.sent_at)}: a kiosk "
                                    f"reports its local today or the {DAYS_KEPT - 1} days before")


def decode_offers(payload: bytes, topic: TopicParts | None = None) -> OffersDay:
    """Size-check, parse and validate a received offers payload."""
    return validate_offers(_load(payload), topic)


def encode_offers(day: OffersDay) -> bytes:
    """The payload a kiosk sends, checked against the schema first so it never emits what central rejects."""
    document = day.to_document()
    validate_offers(document)
    return encode(document)
