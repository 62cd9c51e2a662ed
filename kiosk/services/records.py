"""Plain values passed between the loyalty store, the offer engine, the session and the screens."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Customer:
    """A loyalty customer as the screens may use it: no purchase history, no mood."""

    customer_id: int
    card_id: str
    first_name: str
    language: str | None  # "en" / "de", or None for the store's language


@dataclass(frozen=True, slots=True)
class Offer:
    """One offer as shown on screen; `reason` is for staff (logged), never shown to the shopper."""

    offer_id: str
    title: str
    icon: str  # icon name, e.g. "coffee"; the UI maps it to an image and falls back to a generic one
    price_cents: int | None  # offer price, or None when it is a discount
    discount_percent: int | None
    valid_until: date
    category: str
    reason: str
    rule: str = "popular"  # which engine rule chose it: "repurchase", "together", "category", "popular"
    score: float = 0.0

    @property
    def price_text(self) -> str:
        """Language-neutral price label, e.g. '2.49' or '-20%'."""
        if self.price_cents is not None:
            return f"{self.price_cents // 100}.{self.price_cents % 100:02d}"
        if self.discount_percent is not None:
            return f"-{self.discount_percent}%"
        return ""
