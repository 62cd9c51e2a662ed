"""The loyalty side of a kiosk whose loyalty store could not be opened: it serves shoppers without it."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from kiosk.services.records import Customer, Offer


class NoLoyaltyStore:
    """Stands in for a damaged or unreadable LoyaltyStore (the file is left as it is): no card is known, so a
    scan takes the "card not recognised / continue as guest" path; nothing raises."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def find_customer(self, card_id: str) -> Customer | None:
        return None

    def card_id_of(self, customer_id: int) -> str | None:
        return None

    def close(self) -> None:
        """Nothing was opened."""


class NoOffers:
    """The offer source without a catalogue: no offers, for members or guests."""

    def offers_for(self, customer_id: int, today: date, limit: int, language: str | None = None) -> list[Offer]:
        return []

    def guest_offers(self, today: date, limit: int, language: str | None = None) -> list[Offer]:
        return []
