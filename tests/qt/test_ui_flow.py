"""The shopper's whole path on real widgets: attract -> scan -> offers -> feedback -> thanks -> timeout."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from kiosk.i18n import read_texts
from kiosk.session import State
from helpers.kiosk_ui import ANNA, BAD_CHECK, CLARA, FELIX_LUHN, UNKNOWN_EAN, clipped_texts, wedge_scan


def test_wedge_scan_offers_feedback_thanks_and_timeout(qtbot, make_config, start_app, clock):
    app = start_app(make_config())
    w = app.window
    assert w.current_screen() is w.attract
    wedge_scan(w, ANNA)
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
    assert w.offers.greeting.text() == "Hallo Anna!"  # Anna's card says German
    assert 3 <= len(w.offers.cards) <= 5
    for card in w.offers.cards:
        assert card.title.text() and card.price.text() and card.valid.text().startswith("Gültig bis")
    assert app.config.language == "en" and not app.config.camera.enabled
    assert w.notice.text() == read_texts("de")["privacy.camera_off"]  # the notice speaks Anna's language
    assert not clipped_texts(w)

    qtbot.mouseClick(w.offers.done, Qt.MouseButton.LeftButton)
    assert w.current_screen() is w.feedback
    qtbot.mouseClick(w.feedback.buttons["happy"], Qt.MouseButton.LeftButton)
    assert w.current_screen() is w.thanks
    qtbot.mouseClick(w.thanks, Qt.MouseButton.LeftButton)
    assert app.feedback.pending() == {"happy": 1, "neutral": 0, "unhappy": 0}  # counted; out once k pressed

    clock.advance(app.config.timeouts.thanks_s + 0.1)
    qtbot.waitUntil(lambda: w.current_screen() is w.attract, timeout=3000)  # the session's QTimer tick
    assert w.attract.title.text() == "Welcome!"
    assert w.notice.text() == read_texts("en")["privacy.camera_off"]  # back in the kiosk's own language


def test_offers_time_out_to_attract(qtbot, make_config, start_app, clock):
    app = start_app(make_config(language="de"))
    w = app.window
    wedge_scan(w, CLARA)
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
    assert w.offers.greeting.text() == "Hello Clara!"  # Clara reads English at a German kiosk
    clock.advance(app.config.timeouts.offers_s - 1)
    QTest.qWait(300)
    assert w.current_screen() is w.offers
    clock.advance(2)
    qtbot.waitUntil(lambda: w.current_screen() is w.attract, timeout=3000)
    assert w.attract.title.text() == "Willkommen!"


def test_luhn_card_accepted(qtbot, make_config, start_app):
    app = start_app(make_config())
    wedge_scan(app.window, FELIX_LUHN)
    qtbot.waitUntil(lambda: app.window.current_screen() is app.window.offers, timeout=3000)
    assert "Felix" in app.window.offers.greeting.text()


def test_human_typing_is_not_a_scan(qtbot, make_config, start_app):
    app = start_app(make_config())
    w = app.window
    for digit in ANNA:
        QTest.keyClick(w, digit, delay=app.config.cards.wedge_max_key_gap_ms + 40)
    QTest.keyClick(w, Qt.Key.Key_Return)
    QTest.qWait(50)
    assert app.session.state is State.ATTRACT
    assert w.current_screen() is w.attract


def test_unknown_card_then_guest(qtbot, make_config, start_app):
    app = start_app(make_config())
    w = app.window
    wedge_scan(w, UNKNOWN_EAN)
    qtbot.waitUntil(lambda: w.current_screen() is w.card_error, timeout=3000)
    assert w.card_error.title.text() == "We don't know this card yet"
    assert UNKNOWN_EAN not in w.card_error.body.text()
    qtbot.mouseClick(w.card_error.guest, Qt.MouseButton.LeftButton)
    assert w.current_screen() is w.offers
    assert w.offers.greeting.text() == "Hello!"
    assert w.offers.subtitle.text() == "Today's offers for everyone"
    assert 1 <= len(w.offers.cards) <= 5


def test_malformed_inputs_are_friendly_and_lose_nothing(qtbot, make_config, start_app):
    app = start_app(make_config())
    w = app.window
    for bad in (BAD_CHECK, "12ab5678", "1234"):
        wedge_scan(w, bad)
        qtbot.waitUntil(lambda: w.current_screen() is w.card_error, timeout=3000)
        assert w.card_error.title.text() == "This card could not be read"
        qtbot.mouseClick(w.card_error.back, Qt.MouseButton.LeftButton)
        assert w.current_screen() is w.attract
    # a good scan right after still works
    wedge_scan(w, CLARA)
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)


def test_camera_off_says_so_and_cards_still_work(qtbot, make_config, start_app):
    app = start_app(make_config(camera={"enabled": False}))
    w = app.window
    assert w.notice.text() == (
        "This kiosk's camera is switched off. No images are taken, stored or sent."
    )
    assert not w.attract.gauge.isVisible()
    assert w.attract.mood_level.text() == "Mood reading is switched off"
    assert "Camera: off" in w.service.text()
    assert "show the QR code" not in w.attract.how.text()
    wedge_scan(w, CLARA)
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)



def test_touching_the_offers_screen_restarts_its_timeout(qtbot, make_config, start_app, clock):
    app = start_app(make_config())
    w = app.window
    wedge_scan(w, CLARA)
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
    clock.advance(app.config.timeouts.offers_s - 2)
    qtbot.mouseClick(w.offers.cards[0], Qt.MouseButton.LeftButton)  # the shopper reads an offer
    clock.advance(5)
    QTest.qWait(300)
    assert w.current_screen() is w.offers
    clock.advance(app.config.timeouts.offers_s)
    qtbot.waitUntil(lambda: w.current_screen() is w.attract, timeout=3000)
