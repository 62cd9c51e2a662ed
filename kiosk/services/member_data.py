"""A loyalty member's rights on the kiosk (GDPR Art. 15 access, Art. 17 erasure) and purchase retention.

Everything the kiosk holds about a member sits in the loyalty store (customer row, purchases); the offer
model cached in the same file is derived from all purchases, so an erasure or a prune deletes it and the
kiosk learns it again without them. Logs carry only the member's keyed pseudonym (`card:<HMAC prefix>`).
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Sequence

from kiosk.errors import KioskError
from kiosk.services.cards import CardHasher
from kiosk.services.loyalty import LoyaltyStore
from kiosk.services.offer_ranking_model import MODEL_META_KEY as RANKER_META_KEY
from kiosk.services.offer_model import MODEL_META_KEY as RULES_META_KEY

# Every offer model the kiosk may cache (learned from members' purchases): forget and prune drop them all.
MODEL_CACHE_KEYS = (RANKER_META_KEY, RULES_META_KEY)

logger = logging.getLogger(__name__)

ERASED_PSEUDONYM = "card:erased"
_CARD = re.compile(r"^[0-9]{4,64}$")


class MemberDataError(KioskError):
    """A card argument that is not a card number, a card with no member, or a log file that cannot be scrubbed."""


def parse_card_argument(raw: str) -> str:
    """The card number from a command-line argument (spaces and dashes allowed, as printed on cards)."""
    card = re.sub(r"[\s-]", "", raw)
    if not _CARD.match(card):
        raise MemberDataError(f"CARD: {raw!r} is not a card number (4-64 digits)")
    return card


@dataclass(frozen=True, slots=True)
class PurchaseRecord:
    day: date
    sku: str
    product: str
    quantity: int


@dataclass(frozen=True, slots=True)
class MemberExport:
    """Everything the kiosk holds about one member (Art. 15), plus what it derives and never keeps."""

    card_id: str
    first_name: str
    language: str | None
    pseudonym: str
    purchases: tuple[PurchaseRecord, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "card_id": self.card_id,
            "first_name": self.first_name,
            "language": self.language,
            "purchases": [
                {"date": p.day.isoformat(), "sku": p.sku, "product": p.product, "quantity": p.quantity}
                for p in self.purchases
            ],
            "log_pseudonym": self.pseudonym,
            "not_held": {
                "images": "never stored or sent: frames are analysed in memory and dropped",
                "mood": "never stored: with the shopper's on-screen opt-in it orders that visit's offers, then is dropped",
                "offers_shown": "not stored; computed at each scan from the purchases above",
                "central": "nothing: only anonymous mood counts of at least k people leave the kiosk",
            },
        }


@dataclass(frozen=True, slots=True)
class LogScrub:
    path: Path
    lines: int  # lines in which the pseudonym was replaced


@dataclass(frozen=True, slots=True)
class ErasureReport:
    pseudonym: str
    purchases: int
    offer_cache_cleared: bool
    logs: tuple[LogScrub, ...]


def export_member(store: LoyaltyStore, card_id: str, hasher: CardHasher) -> MemberExport:
    customer = store.find_customer(card_id)
    if customer is None:
        raise MemberDataError(f"CARD: no loyalty member with card {card_id} in {store.path} (nothing exported)")
    purchases = tuple(
        PurchaseRecord(date.fromordinal(day), sku, name, quantity)
        for day, sku, name, quantity in store.member_purchases(customer.customer_id)
    )
    return MemberExport(customer.card_id, customer.first_name, customer.language, hasher(card_id), purchases)


def _check_log_files(paths: list[Path]) -> None:
    """Every log file must be readable and its folder writable before anything is erased."""
    for path in paths:
        if not path.is_file():
            raise MemberDataError(f"--scrub-log: {path} is not a file (nothing erased)")
        if not os.access(path, os.R_OK) or not os.access(path.parent, os.W_OK):
            raise MemberDataError(f"--scrub-log: {path} cannot be rewritten (no permission; nothing erased)")


def scrub_log(path: Path, pseudonym: str) -> LogScrub:
    """Replace the pseudonym in a plain-text log file (written anew, atomically, with the same mode)."""
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    lines = text.splitlines(keepends=True)
    hits = sum(pseudonym in line for line in lines)
    if hits:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as out:
                out.write(text.replace(pseudonym, ERASED_PSEUDONYM))
            os.chmod(tmp, path.stat().st_mode & 0o7777)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return LogScrub(path, hits)


def forget_member(
    store: LoyaltyStore, card_id: str, hasher: CardHasher, log_files: Sequence[Path] = ()
) -> ErasureReport:
    """Erase the member everywhere on the kiosk (Art. 17): customer row, purchases, offer-model cache, and the
    pseudonym in the given log files."""
    paths = [Path(p) for p in log_files]
    _check_log_files(paths)
    customer = store.find_customer(card_id)
    if customer is None:
        raise MemberDataError(f"CARD: no loyalty member with card {card_id} in {store.path} (nothing erased)")
    pseudonym = hasher(card_id)
    had_cache = any(store.get_meta(key) is not None for key in MODEL_CACHE_KEYS)
    _, purchases = store.erase_customer(customer.customer_id, MODEL_CACHE_KEYS)
    logger.info("Erased loyalty member %s: %d purchases, offer-model cache %s", pseudonym, purchases,
                "cleared" if had_cache else "was empty")
    scrubbed = []
    for path in paths:
        try:
            scrubbed.append(scrub_log(path, pseudonym))
        except OSError as exc:  # checked beforehand, so only a full disk or a race gets here
            raise MemberDataError(
                f"--scrub-log: member {pseudonym} was erased from the loyalty store, but {path} could not be "
                f"rewritten ({exc.strerror or exc}); replace {pseudonym} in it by {ERASED_PSEUDONYM} by hand"
            ) from None
    return ErasureReport(pseudonym, purchases, had_cache, tuple(scrubbed))


def prune_purchases(store: LoyaltyStore, retention_days: int, today: date | None = None) -> int:
    """Delete purchases older than `retention_days` (0: keep all); the offer-model cache goes with them."""
    if retention_days <= 0:
        return 0
    cutoff = (today or date.today()) - timedelta(days=retention_days)
    deleted = store.prune_purchases(cutoff.toordinal(), MODEL_CACHE_KEYS)
    if deleted:
        logger.info("Pruned %d purchases older than %d days (before %s)", deleted, retention_days, cutoff)
    return deleted
