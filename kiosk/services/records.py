"""Plain values passed between the loyalty store, the offer engine, the session and the screens."""
from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from datetime import date


# Lengths an offer snapshot carries (kiosk.services.offer_snapshot) and so the loyalty CSVs accept: a catalogue
# the kiosk imports must also go through central's offers-build into a snapshot.
MAX_ID_CHARS = 64  # offer ids, icon names
MAX_TEXT_CHARS = 200  # titles, product names, categories


# Bidirectional embeddings, overrides and isolates: they reorder what follows them on the screen and in a log
# viewer ("Trojan Source"). The marks U+200E / U+200F, which right-to-left names may need, stay allowed.
_BIDI_CONTROLS = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))
_LINE_BREAKS = ("Cc", "Zl", "Zp")  # control characters, and U+2028 / U+2029, which many viewers break lines at


def refuse_control_characters(value: str) -> str:
    """`value` unchanged; ValueError naming the first control character (a NUL, escape, tab or line break, a
    Unicode line or paragraph separator, a bidi override), or for a text of invisible characters only.

    Why: names, titles and categories from the loyalty files and offer snapshots reach the shopper's screen and
    the kiosk's log, where a line break forges a log line, an escape sequence drives the terminal, a bidi
    override shows a text reversed, and a title of zero-width spaces is an offer card with no title."""
    bad = next((char for char in value if unicodedata.category(char) in _LINE_BREAKS or ord(char) in _BIDI_CONTROLS),
               None)
    if bad is not None:
        raise ValueError(f"contains the control character U+{ord(bad):04X}")
    if value and all(unicodedata.category(char) in ("Cf", "Zs", "Mn") for char in value):
        raise ValueError("has no visible character")
    return value


@dataclass(frozen=True, slots=True)
class Customer:
    """A loyalty customer as the screens may use it: no purchase history, no mood."""

    customer_id: int
    card_id: str
    first_name: str
    language: str | None  # "en" / "de", or None for the store's language


class OfferRule(enum.StrEnum):
    """Which engine rule chose an offer (a StrEnum: it is written to logs, snapshots and offers.v1 as its text)."""

    REPURCHASE = "repurchase"
    TOGETHER = "together"
    CATEGORY = "category"
    POPULAR = "popular"


class ReasonKind(enum.Enum):
    """What the one-line reason on an offer card says (texts: kiosk/i18n, key `reason.<value>`)."""

    CYCLE = "cycle"  # "You buy this about every {n} days/weeks"
    REGULAR = "regular"  # "One of your regular buys"
    GOES_WITH = "goes_with"  # "Goes with your {product}"
    CATEGORY = "category"  # "New in a category you like"
    POPULAR = "popular"  # "Popular in our store right now"


@dataclass(frozen=True, slots=True)
class OfferReason:
    """The shopper-facing reason of one offer; `days` for CYCLE, `anchor` (a product name) for GOES_WITH."""

    kind: ReasonKind
    days: int | None = None
    anchor: str | None = None
    anchor_offer: str | None = None  # GOES_WITH: the offer of the anchor product, if any (its titles translate `anchor`)


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
    rule: OfferRule = OfferRule.POPULAR  # which engine rule chose it (text such as "popular" is decoded)
    score: float = 0.0
    why: OfferReason | None = None  # the reason shown to the shopper (None: no reason line)
    regular_price_cents: int | None = None  # the regular price, shown struck through beside a lower one

    def __post_init__(self) -> None:
        if type(self.rule) is not OfferRule:  # a rule read back as text (snapshot rows, Spark rows) becomes the enum
            object.__setattr__(self, "rule", OfferRule(self.rule))

    @property
    def offer_price_cents(self) -> int | None:
        """The price the shopper pays: the offer price, or the regular price less the discount."""
        if self.price_cents is not None:
            return self.price_cents
        if self.discount_percent is not None and self.regular_price_cents is not None:
            return round(self.regular_price_cents * (100 - self.discount_percent) / 100)
        return None

    @property
    def struck_price_cents(self) -> int | None:
        """The regular price when it is higher than what the shopper pays (to show struck through)."""
        paid = self.offer_price_cents
        if paid is not None and self.regular_price_cents is not None and self.regular_price_cents > paid:
            return self.regular_price_cents
        return None

