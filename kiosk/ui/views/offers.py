"""Offers screen: greeting by first name, 3-5 offer cards, and a large "Done"."""
from __future__ import annotations

import re
from typing import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from kiosk.i18n import Translator
from kiosk.services.records import Offer, OfferReason, ReasonKind
from kiosk.ui.views import make_button, make_fit_label, make_label
from kiosk.ui.widgets import OfferIcon

_NUMBER_UNIT = re.compile(r"(\d) (\w{1,3}\b|%)")


def keep_units(title: str) -> str:
    """Join a number to its short unit with a no-break space, so "500 g" never wraps into "500" / "g"."""
    return _NUMBER_UNIT.sub("\\1\u00a0\\2", title)


def money(t: Translator, cents: int) -> str:
    """An amount that never wraps between number and currency sign."""
    return t.money(cents).replace(" ", "\u00a0")


def price_text(t: Translator, offer: Offer) -> str:
    """The offer's price ('only €2.49'), discounted price ('€2.00 (−20%)') or discount ('20% off')."""
    if offer.price_cents is not None:
        return t("offers.price", price=money(t, offer.price_cents))
    if offer.discount_percent is not None and offer.offer_price_cents is not None:
        text = t("offers.discount_price", price=money(t, offer.offer_price_cents), percent=offer.discount_percent)
        return text.replace(" %", "\u00a0%")
    if offer.discount_percent is not None:
        return t("offers.discount", percent=offer.discount_percent)
    return ""


def reason_text(t: Translator, why: OfferReason | None) -> str:
    """The one-line reason of an offer in the shopper's language ('' when it has none)."""
    if why is None:
        return ""
    if why.kind is ReasonKind.CYCLE and why.days:
        if why.days >= 12:
            weeks = round(why.days / 7)
            return t("reason.cycle.weeks", weeks=weeks) if weeks > 1 else t("reason.cycle.week")
        return t("reason.cycle.days", days=why.days) if why.days > 1 else t("reason.cycle.day")
    if why.kind is ReasonKind.GOES_WITH and why.anchor:
        return t("reason.goes_with", product=why.anchor)
    if why.kind is ReasonKind.CYCLE:
        return t("reason.regular")
    return t(f"reason.{why.kind.value}")


REDEEM_MODES = ("card", "till")
# Lines for texts from the catalogue and the loyalty file, which may be of any length: the rest is elided.
# Portrait stacks five cards under a two-line greeting: each card has the height of fewer lines (but wider ones).
TITLE_LINES = {False: 3, True: 2}  # by portrait
REASON_LINES = {False: 2, True: 1}
GREETING_LINES = 1  # a name: one line, the rest elided


class OfferCard(QFrame):
    """One offer: icon, title, price or discount, validity; stacked (landscape) or side by side (portrait).

    The layout is built once; `show_offer` puts another offer into the same widgets, so the offers screen
    reuses its cards from one shopper to the next instead of building ~10 widgets and 4 layouts per card per
    scan (that rebuilding was most of the time from card scan to offers painted)."""

    def __init__(self, t: Translator, offer: Offer, unit: float, portrait: bool, parent: QWidget | None = None,
                 redeem: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("offerCard")
        self.offer = offer
        self.icon = OfferIcon(offer.icon, offer.title, offer.category)
        side = round(unit * (11 if portrait else 9))
        self.icon.setFixedSize(side, side)
        center = not portrait
        self.title = make_fit_label("offerTitle", TITLE_LINES[portrait], center=center)
        self.regular = make_label("offerRegular", center=center, wrap=False)
        font = self.regular.font()  # the regular price is shown struck through, beside the lower one
        font.setStrikeOut(True)
        self.regular.setFont(font)
        self.price = make_label("offerPrice", center=center)
        self.reason = make_fit_label("offerReason", REASON_LINES[portrait], center=center)  # may name a product
        self.redeem = make_label("offerRedeem", center=center)
        self.valid = make_label("offerValid", center=center)
        pad = round(unit * (0.8 if portrait else 1.2))
        self._pad, self._portrait = pad, portrait
        prices = self._prices = QHBoxLayout()
        prices.setSpacing(round(unit * 1.2))
        if center:
            prices.addStretch(1)
        prices.addWidget(self.regular, 0, Qt.AlignmentFlag.AlignBaseline)
        prices.addWidget(self.price, 0 if center else 1, Qt.AlignmentFlag.AlignBaseline)
        if center:
            prices.addStretch(1)
        texts = QVBoxLayout()
        texts.setSpacing(round(unit * (0.2 if portrait else 0.4)))
        texts.addWidget(self.title)
        texts.addLayout(prices)
        texts.addWidget(self.reason)
        if portrait:  # five cards stacked under a long notice: how to redeem and until when share one line
            footer = QHBoxLayout()
            footer.setSpacing(round(unit * 2))
            self.redeem.setWordWrap(False)
            footer.addWidget(self.redeem)
            footer.addWidget(self.valid, 1)
            texts.addLayout(footer)
        else:
            texts.addWidget(self.redeem)
            texts.addWidget(self.valid)
        if portrait:
            outer: QBoxLayout = QHBoxLayout(self)
            outer.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignVCenter)
            outer.addLayout(texts, 1)
        else:  # tall cards: icon and texts centred as one block, no empty lower half
            outer = QVBoxLayout(self)
            outer.addStretch(1)
            outer.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignHCenter)
            outer.addLayout(texts)
            outer.addStretch(1)
        outer.setContentsMargins(pad, pad, pad, pad)
        outer.setSpacing(round(unit * (2 if portrait else 1.4)))
        self._outer = outer
        self.show_offer(t, offer, redeem)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._arrange_prices()

    def _arrange_prices(self) -> None:
        """The struck regular price beside the price when both fit on one line, else above it: five landscape
        cards have no room for '€100000.00  only €99999.99' side by side, and a price cut off is a wrong price."""
        room = self.width() - 2 * self._pad
        if self._portrait:
            room -= self.icon.width() + self._outer.spacing()
        needed = 0
        if not self.regular.isHidden():
            self.ensurePolished()
            needed = (self.regular.sizeHint().width() + self._prices.spacing()
                      + self.price.fontMetrics().horizontalAdvance(self.price.text()) + 2 * self.price.margin())
        direction = QBoxLayout.Direction.TopToBottom if needed > room else QBoxLayout.Direction.LeftToRight
        if self._prices.direction() != direction:
            self._prices.setDirection(direction)

    def show_offer(self, t: Translator, offer: Offer, redeem: str | None = None) -> None:
        """Show `offer` in this card's widgets (texts set only where they change, so Qt lays out no more than needed)."""
        self.offer = offer
        self.icon.set_offer(offer.icon, offer.title, offer.category)
        struck = offer.struck_price_cents
        _set(self.title, keep_units(offer.title))
        _set(self.regular, t("offers.regular_price", price=money(t, struck)) if struck is not None else "")
        _set(self.price, price_text(t, offer))
        _set(self.reason, reason_text(t, offer.why))
        _set(self.redeem, t(f"offers.redeem.{redeem}") if redeem in REDEEM_MODES else "")
        _set(self.valid, t("offers.valid_until", date=t.date(offer.valid_until)), always=True)
        self._arrange_prices()


def _set(label: QLabel, text: str, always: bool = False) -> None:
    """Set a label's text when it differs; an empty label is hidden (unless `always`)."""
    if label.text() != text:
        label.setText(text)
    visible = always or bool(text)
    if label.isHidden() == visible:
        label.setVisible(visible)


class OffersView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("offers")
        self.greeting = make_fit_label("title", GREETING_LINES)  # holds the first name from the loyalty file
        self.subtitle = make_label("body")
        self.empty = make_label("headline")
        self.done = make_button("doneButton", primary=True)
        self.no_mood = make_button("noMoodButton")
        self.mood_opt_in = make_button("moodOptInButton")  # only when the store allows it, per visit
        for button in (self.no_mood, self.mood_opt_in):
            button.setProperty("role", "choice")  # touched at arm's length: smaller than the main buttons
        self.cards_box = QWidget()
        self._grid = QGridLayout(self.cards_box)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._pool: list[OfferCard] = []  # built for the current unit and orientation, reused across shoppers
        self._used = 0
        self._unit, self._portrait = 10.8, False
        self._shown: tuple[Translator, Sequence[Offer], str | None] | None = None
        self._layout = QVBoxLayout(self)
        self._layout.addWidget(self.greeting)
        self._layout.addWidget(self.subtitle)
        self._layout.addWidget(self.cards_box, 1)
        self._layout.addWidget(self.empty)
        # Done and the two privacy choices: one row in landscape, the choices above Done in portrait.
        self._actions = QGridLayout()
        self._layout.addLayout(self._actions)
        self._place_actions(False)

    def set_unit(self, unit: float, portrait: bool) -> None:
        changed = (unit, portrait) != (self._unit, self._portrait)
        self._unit, self._portrait = unit, portrait
        self._layout.setSpacing(round(unit * 1.2))
        self._grid.setSpacing(round(unit * (1 if portrait else 1.5)))  # five cards under a long notice need the room
        self._actions.setHorizontalSpacing(round(unit * 3))
        self._actions.setVerticalSpacing(round(unit * 1.5))
        if changed:
            self._place_actions(portrait)
        self.done.setMinimumWidth(round(unit * 40))
        if changed:
            self._drop_cards()
            if self._shown is not None:
                self._build_cards(*self._shown)

    def render(self, t: Translator, name: str | None, offers: Sequence[Offer], subtitle_key: str,
               redeem: str | None = None) -> None:
        """`redeem`: 'card' (loaded on the loyalty card) or 'till' (show at the till); None shows no redeem line."""
        self.greeting.setText(t("offers.greeting", name=name) if name else t("guest.greeting"))
        self.subtitle.setText(t(subtitle_key))
        self.done.setText(t("offers.done"))
        self.empty.setText(t("offers.none"))
        self.empty.setVisible(not offers)
        self._shown = (t, tuple(offers), redeem)
        self._build_cards(t, offers, redeem)

    def _place_actions(self, portrait: bool) -> None:
        for widget in (self.mood_opt_in, self.done, self.no_mood):
            self._actions.removeWidget(widget)
        centre = Qt.AlignmentFlag.AlignCenter
        if portrait:
            self._actions.addWidget(self.mood_opt_in, 0, 0, centre)
            self._actions.addWidget(self.no_mood, 0, 1, centre)
            self._actions.addWidget(self.done, 1, 0, 1, 2, centre)
        else:
            self._actions.addWidget(self.mood_opt_in, 0, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self._actions.addWidget(self.done, 0, 1, centre)
            self._actions.addWidget(self.no_mood, 0, 2, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        # landscape: Done in the middle column between two equal stretching ones; portrait: two columns only
        # (a third, empty but stretching, would push Done left of centre)
        stretches = (1, 1, 0) if portrait else (1, 0, 1)
        for column, stretch in enumerate(stretches):
            self._actions.setColumnStretch(column, stretch)

    def render_privacy(self, t: Translator, camera_on: bool, paused: bool, opt_in_offered: bool, opted_in: bool) -> None:
        """The shopper's two choices: switch mood reading off, or (when the store allows) let their mood order
        their offers. Reading off hides the opt-in; an opt-in given shows as done."""
        self.no_mood.setVisible(camera_on)
        self.no_mood.setEnabled(not paused)
        self.no_mood.setText(t("mood.paused") if paused else t("offers.no_mood"))
        self.mood_opt_in.setVisible(camera_on and opt_in_offered and not paused)
        self.mood_opt_in.setEnabled(not opted_in)
        self.mood_opt_in.setText(t("offers.mood_opted_in") if opted_in else t("offers.mood_opt_in"))

    @property
    def cards(self) -> list[OfferCard]:
        """The cards showing the current offers, in order."""
        return self._pool[:self._used]

    def _drop_cards(self) -> None:
        """Delete every card (the unit or orientation changed: cards are built for one of each)."""
        for card in self._pool:
            self._grid.removeWidget(card)
            card.deleteLater()
        self._pool, self._used = [], 0
        for column in range(self._grid.columnCount()):
            self._grid.setColumnStretch(column, 0)
        for row in range(self._grid.rowCount()):
            self._grid.setRowStretch(row, 0)

    def _build_cards(self, t: Translator, offers: Sequence[Offer], redeem: str | None = None) -> None:
        """Show `offers` in the pooled cards: new cards only when there are more offers than ever before."""
        for i, offer in enumerate(offers):
            row, column = (i, 0) if self._portrait else (0, i)
            if i < len(self._pool):
                card = self._pool[i]
                card.show_offer(t, offer, redeem)
            else:
                card = OfferCard(t, offer, self._unit, self._portrait, self.cards_box, redeem)
                self._grid.addWidget(card, row, column)
                self._pool.append(card)
            if card.isHidden():
                card.setVisible(True)
            self._grid.setRowStretch(row, 1)
            self._grid.setColumnStretch(column, 1)
        for i in range(len(offers), len(self._pool)):  # fewer offers than cards: the rest hide and take no room
            row, column = (i, 0) if self._portrait else (0, i)
            self._pool[i].setVisible(False)
            if self._portrait:
                self._grid.setRowStretch(row, 0)
            else:
                self._grid.setColumnStretch(column, 0)
        self._used = len(offers)
