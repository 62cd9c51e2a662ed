"""Offer cards: the reason line in the shopper's language, the redeem line, a struck regular price, pictograms
that match the category, landscape cards without an empty lower half; screenshots at both sizes."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor

from helpers.kiosk_ui import ANNA, LANDSCAPE, PORTRAIT, clipped_texts, wedge_scan
from kiosk.i18n import load_translator
from kiosk.services.records import Offer, OfferReason, ReasonKind
from kiosk.ui.pictograms import pictogram_for
from kiosk.ui.views.offers import OfferCard, reason_text

BEN = "2900000000025"


def offer(**changes: object) -> Offer:
    values: dict[str, object] = dict(offer_id="o1", title="Filter coffee 500 g", icon="coffee", price_cents=399,
                                     discount_percent=None, valid_until=date(2026, 12, 31), category="coffee",
                                     reason="staff only", why=OfferReason(ReasonKind.CYCLE, days=14),
                                     regular_price_cents=549)
    values.update(changes)
    return Offer(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("why, en, de", [
    (OfferReason(ReasonKind.CYCLE, days=14), "You buy this about every 2 weeks", "Das kaufen Sie etwa alle 2 Wochen"),
    (OfferReason(ReasonKind.CYCLE, days=5), "You buy this about every 5 days", "Das kaufen Sie etwa alle 5 Tage"),
    (OfferReason(ReasonKind.CYCLE, days=7), "You buy this about every 7 days", "Das kaufen Sie etwa alle 7 Tage"),
    (OfferReason(ReasonKind.GOES_WITH, anchor="Laptop"), "Goes with your Laptop", "Passt zu Ihrem Einkauf: Laptop"),
    (OfferReason(ReasonKind.CATEGORY), "New in a category you like", "Neu in einer Ihrer Lieblingskategorien"),
    (OfferReason(ReasonKind.POPULAR), "Popular in our store right now", "Gerade beliebt in unserem Markt"),
    (None, "", ""),
])
def test_reason_lines(why, en, de) -> None:
    assert reason_text(load_translator("en"), why) == en
    assert reason_text(load_translator("de"), why) == de


def test_card_shows_reason_redeem_and_struck_regular_price(qtbot) -> None:
    t = load_translator("de")
    card = OfferCard(t, offer(), 10.8, portrait=True, redeem="card")
    qtbot.addWidget(card)
    assert card.reason.text() == "Das kaufen Sie etwa alle 2 Wochen"
    assert card.redeem.text() == t("offers.redeem.card") and card.redeem.isVisibleTo(card)
    assert card.regular.text() == "5,49\u00a0€" and card.regular.font().strikeOut()
    assert card.price.text() == "nur 3,99\u00a0€"
    discount = OfferCard(t, offer(price_cents=None, discount_percent=20, regular_price_cents=250), 10.8, True)
    qtbot.addWidget(discount)
    assert discount.price.text() == "2,00\u00a0€ (−20\u00a0%)" and discount.regular.text() == "2,50\u00a0€"
    plain = OfferCard(t, offer(regular_price_cents=None, why=None), 10.8, True, redeem=None)
    qtbot.addWidget(plain)
    assert not plain.regular.isVisibleTo(plain) and not plain.reason.isVisibleTo(plain)
    assert not plain.redeem.isVisibleTo(plain)


@pytest.mark.parametrize("texts, expected", [
    (("cheese", "star", "Gouda"), "cheese"), (("juice", "drinks", "Orange juice"), "bottle"),
    (("milk", "drinks", "Oat drink"), "carton"), (("Käse", "", ""), "cheese"), (("130315", "", "Article 47"), None),
    (("", "coffee", ""), "cup"), (("pet food", "star", "Cat food"), "paw"),
])
def test_pictogram_follows_the_category_first(texts, expected) -> None:
    assert pictogram_for(*texts) == expected


def test_pictograms_paint_something_on_the_tile(qtbot) -> None:
    from kiosk.ui.widgets import OfferIcon

    for category in ("coffee", "cheese", "milk", "juice", "bread", "fruit", "vegetables", "fish", "meat", "eggs",
                     "frozen", "chocolate", "pasta", "body care", "pet food", "laptops"):
        icon = OfferIcon("star", "X", category)
        qtbot.addWidget(icon)
        assert icon.pictogram is not None, category
        image = icon.grab().toImage()
        white = sum(image.pixelColor(x, y) == QColor("#FFFFFF") for x in range(0, 96, 3) for y in range(0, 96, 3))
        assert white > 20, f"{category}: almost nothing painted"


@pytest.mark.parametrize("language, card", [("en", BEN), ("de", ANNA)])
@pytest.mark.parametrize("size", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
def test_offer_screen_fits_and_landscape_cards_are_filled(qtbot, make_config, start_app, artifacts_dir, size,
                                                          language, card) -> None:
    app = start_app(make_config(language=language, offers={"max_offers": 5, "redeem": "card"}), size)
    w = app.window
    wedge_scan(w, card)
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
    qtbot.wait(30)
    assert clipped_texts(w) == []
    cards = w.offers.cards
    assert len(cards) == 5 and all(c.reason.text() for c in cards)
    assert any(c.regular.isVisibleTo(c) for c in cards)  # the demo catalogue has regular prices
    done_centre = w.offers.done.mapTo(w.offers, QPoint(w.offers.done.width() // 2, 0)).x()
    assert abs(done_centre - w.offers.width() / 2) <= 2, (done_centre, w.offers.width())
    if size == LANDSCAPE:
        for c in cards:  # content centred: the empty space above the icon and below the last line are alike
            top = c.icon.mapTo(c, QPoint(0, 0)).y()
            bottom = c.height() - c.valid.mapTo(c, QPoint(0, c.valid.height())).y()
            assert abs(top - bottom) <= 0.25 * c.height(), (top, bottom, c.height())
    assert w.grab().save(str(Path(artifacts_dir) / f"offer_cards_{size[0]}x{size[1]}_{language}.png"))


def test_offers_screen_reuses_its_cards_and_shows_each_offer_fully(qtbot) -> None:
    """Cards are pooled across shoppers (the painted-latency fix): a later, shorter list reuses the same widgets,
    shows the new texts, hides what the new offer lacks and the cards it does not need; an orientation change
    builds cards for the new layout."""
    from kiosk.ui.views.offers import OffersView

    t = load_translator("en")
    view = OffersView()
    qtbot.addWidget(view)
    view.set_unit(10.8, False)
    first = [offer(offer_id=f"o{i}", title=f"Coffee {i}") for i in range(5)]
    view.render(t, "Anna", first, "offers.subtitle.neutral", redeem="card")
    view.show()
    qtbot.waitExposed(view)
    pool = list(view.cards)
    assert [c.title.text() for c in pool] == [f"Coffee {i}" for i in range(5)]
    second = [offer(offer_id="p0", title="Gouda 400 g", category="cheese", regular_price_cents=None, why=None,
                    price_cents=None, discount_percent=10),
              offer(offer_id="p1", title="Milk 1 l", category="milk")]
    view.render(t, "Ben", second, "offers.subtitle.neutral", redeem=None)
    assert view.cards == pool[:2]  # the same widgets, not new ones
    gouda, milk = view.cards
    assert gouda.title.text() == "Gouda 400\u00a0g" and gouda.price.text() == t("offers.discount", percent=10)
    assert gouda.icon.pictogram == "cheese" and milk.icon.pictogram == "carton"
    assert not gouda.regular.isVisibleTo(gouda) and not gouda.reason.isVisibleTo(gouda)
    assert not gouda.redeem.isVisibleTo(gouda) and gouda.valid.isVisibleTo(gouda)
    assert milk.regular.isVisibleTo(milk) and milk.reason.text() == "You buy this about every 2 weeks"
    assert all(not c.isVisibleTo(view) for c in pool[2:])
    qtbot.wait(20)
    assert gouda.width() > 1.5 * pool[0].icon.width()  # the two cards share the row the five had
    assert milk.reason.shown_text() == milk.reason.text()  # refitted to the wider card: shown whole
    view.render(t, "Anna", first, "offers.subtitle.neutral", redeem="card")
    assert view.cards == pool and all(c.isVisibleTo(view) and c.redeem.isVisibleTo(c) for c in pool)
    assert pool[0].regular.isVisibleTo(pool[0]) and pool[0].icon.pictogram == "cup"
    view.set_unit(10.8, True)  # portrait: cards are laid out side by side, so new ones are built
    assert len(view.cards) == 5 and not set(view.cards) & set(pool)
    assert [c.title.text() for c in view.cards] == [f"Coffee {i}" for i in range(5)]
