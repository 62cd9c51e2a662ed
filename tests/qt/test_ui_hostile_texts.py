"""Catalogue and loyalty texts of any length or script: on both screen sizes, in both languages, an offer card
shows at most a few lines of each, cut with an ellipsis, and nothing runs off a card or the window."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from helpers.kiosk_ui import LANDSCAPE, PORTRAIT, clipped_texts
from kiosk.i18n import load_translator
from kiosk.services.records import Offer, OfferReason, ReasonKind
from kiosk.ui.fit_text import ELLIPSIS, FitLabel, fit_lines
from kiosk.ui.views.offers import keep_units

LONG_WORD = "Bio-Vollmilchschokoladenweihnachtsmannhohlfigurmitknusperstückchen" * 3
HOSTILE_TITLES = {
    "long word": LONG_WORD,
    "long sentence": "very long product name " * 12,
    "cjk": "有机全脂牛奶" * 40,
    "arabic": "حليب كامل الدسم عضوي " * 12,
    "emoji": "🍫🍫🍫 chocolate 🍫 " * 12,
    "line breaks": "Milk\n1 l\r\n" * 60,
}


def offer(i: int, title: str, anchor: str = "Laptop") -> Offer:
    return Offer(f"o{i}", title, "coffee", 399, None, date(2026, 12, 31), "coffee", "staff only",
                 why=OfferReason(ReasonKind.GOES_WITH, anchor=anchor), regular_price_cents=549)


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"])
def test_hostile_titles_names_and_anchors_fit_with_an_ellipsis(qtbot, make_config, start_app, size, language):
    app = start_app(make_config(language=language, offers={"max_offers": 5}), size)
    w = app.window
    t = load_translator(language)
    titles = list(HOSTILE_TITLES.values())
    for first in range(0, len(titles), 3):  # three offers at a time: each long text beside other long ones
        offers = [offer(i, title, anchor=LONG_WORD) for i, title in enumerate(titles[first:first + 3])]
        w.offers.render(t, "Maximiliane-Alexandra" * 8, offers, "offers.subtitle.neutral", "card")
        w.show_screen(w.offers)
        qtbot.wait(30)
        assert clipped_texts(w) == []
        for card in w.offers.cards:
            assert card.title.text() == keep_units(card.offer.title)  # kept whole; only the shown text is cut
            assert card.title.shown_text().endswith(ELLIPSIS) and card.reason.shown_text().endswith(ELLIPSIS)
            assert card.title.shown_text().count("\n") < card.title.max_lines
        assert w.offers.greeting.shown_text().endswith(ELLIPSIS)
    short = [offer(0, "Gouda 400 g")]  # a short title is shown whole, as before
    w.offers.render(t, "Anna", short, "offers.subtitle.neutral", "card")
    qtbot.wait(30)
    assert w.offers.cards[0].title.shown_text() == "Gouda 400\u00a0g"
    assert w.offers.greeting.shown_text() == w.offers.greeting.text() == t("offers.greeting", name="Anna")
    assert clipped_texts(w) == []


def test_fit_lines_breaks_a_long_word_and_keeps_surrogate_pairs_whole(qtbot) -> None:
    label = FitLabel(2)
    qtbot.addWidget(label)
    font = label.font()
    lines = fit_lines("🍫" * 200, font, 100, 2).split("\n")
    assert len(lines) == 2 and lines[1].endswith(ELLIPSIS) and "\ufffd" not in "".join(lines)
    assert set(lines[0]) == {"🍫"}
    assert fit_lines("a\r\nb\x00c", font, 500, 3) == "a b c"  # one paragraph whatever the file held


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"])
def test_the_highest_prices_the_importers_accept_are_shown_whole(qtbot, make_config, start_app, size, language):
    """Prices up to 100,000.00 (the CSV and snapshot limit) beside a struck regular price: five landscape cards
    had no room for both on one line, and '€100000.00' / 'only €99999.99' were cut on both sides (a wrong
    price on screen). The two now stack when they do not fit side by side."""
    app = start_app(make_config(language=language, offers={"max_offers": 5}), size)
    w = app.window
    t = load_translator(language)
    top = 10_000_000
    offers = [Offer(f"o{i}", "Filter coffee 500 g", "coffee", price, discount, date(2026, 12, 31), "coffee", "r",
                    regular_price_cents=top)
              for i, (price, discount) in enumerate([(top - 1, None), (None, 99), (top - 1, None), (0, None),
                                                     (None, 1)])]
    w.offers.render(t, "Anna", offers, "offers.subtitle.neutral", "card")
    w.show_screen(w.offers)
    qtbot.wait(50)
    assert clipped_texts(w) == []
    assert all(c.regular.isVisibleTo(c) and c.regular.text() for c in w.offers.cards)


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"])
def test_the_fullest_offers_screen_still_fits(qtbot, make_config, start_app, size, language):
    """Everything long at once, under the camera notice with both privacy choices: five cards, each with a long
    title, a long product in its reason and the highest prices, and a long first name. (With three title and
    two reason lines in portrait, five stacked cards ran out of height and their titles were cut top and
    bottom; portrait cards take two title lines and one reason line, which are twice as wide.)"""
    app = start_app(make_config(language=language, camera={"enabled": True},
                                offers={"mood_reorder": True, "max_offers": 5}), size)
    w = app.window
    t = load_translator(language)
    offers = [replace(offer(i, title, anchor="Anchorproduct with a very long name " * 6), price_cents=9_999_999,
                      regular_price_cents=10_000_000)
              for i, title in enumerate(list(HOSTILE_TITLES.values())[:5])]
    w.offers.render(t, "Maximiliane Alexandra " * 6, offers, "offers.subtitle.neutral", "card")
    w.offers.render_privacy(t, camera_on=True, paused=False, opt_in_offered=True, opted_in=False)
    w.show_screen(w.offers)
    qtbot.wait(50)
    assert clipped_texts(w) == []
