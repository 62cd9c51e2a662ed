"""The peripheral board (firmware loop on a real pty) drives the kiosk: RFID tap -> offers, button -> thanks, LED follows."""
from __future__ import annotations

import shutil

import pytest

from helpers.pty_board import PtyBoard
from kiosk.app import card_number_from_uid
from kiosk.services.loyalty import LoyaltyStore

pytestmark = pytest.mark.timeout(60)

TAP_UID = "04A1B2C3"  # the UID the scripted reader chip reports


def test_uid_to_card_number_like_wedge_readers_print_it():
    assert card_number_from_uid("04A1B2C3") == "0077705923"
    assert card_number_from_uid("FFFFFFFF") == "4294967295"
    assert len(card_number_from_uid("04A1B2C3D4E5F6")) == 17


def test_board_tap_and_button_drive_the_screens(qtbot, make_config, start_app, demo_store_path, tmp_path):
    store_path = tmp_path / "loyalty.sqlite"
    shutil.copy(demo_store_path, store_path)
    with LoyaltyStore(store_path) as store:
        store.add_customers([(card_number_from_uid(TAP_UID), "Rita", "en")])
    board = PtyBoard(tmp_path)
    board.start()
    try:
        app = start_app(make_config(
            loyalty={"db_path": str(store_path)},
            cards={"formats": ["ean13", "luhn", "digits"]},
            peripheral={"enabled": True, "port": board.port},
        ))
        w = app.window
        qtbot.waitUntil(lambda: "Reader: connected" in w.service.text(), timeout=10000)
        board.tap(hold_s=0.2)
        qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=5000)
        assert w.offers.greeting.text() == "Hello Rita!"
        led = lambda: board.board.led.state(board.board.clock.ticks_ms())  # noqa: E731
        qtbot.waitUntil(lambda: led() == "card", timeout=5000)
        w.offers.done.click()
        board.press("happy")
        qtbot.waitUntil(lambda: w.current_screen() is w.thanks, timeout=5000)
        assert app.feedback.pending()["happy"] == 1
        qtbot.waitUntil(lambda: led() == "feedback", timeout=5000)
    finally:
        board.stop()
    assert not board.errors, board.errors


def test_light_follows_the_screen_after_a_card_error_and_a_board_reset(qtbot, make_config, start_app, tmp_path):
    """Red on the card-error screen, red again after the board restarts behind an open port, and no red left
    under the guest screen that follows (the kiosk's green flash also ends the error)."""
    board = PtyBoard(tmp_path)
    board.start()
    try:
        app = start_app(make_config(
            cards={"formats": ["ean13", "luhn", "digits"]},
            peripheral={"enabled": True, "port": board.port},
        ))
        w = app.window
        qtbot.waitUntil(lambda: "Reader: connected" in w.service.text(), timeout=10000)
        led = lambda: board.board.led.state(board.board.clock.ticks_ms())  # noqa: E731
        board.tap(hold_s=0.2)  # TAP_UID is nobody's card in this store
        qtbot.waitUntil(lambda: w.current_screen() is w.card_error, timeout=5000)
        qtbot.waitUntil(lambda: led() == "error", timeout=5000)
        board.reset()  # watchdog restart: the board forgets the light, the port stays open
        qtbot.waitUntil(lambda: app.reader.stats.board_resets == 1, timeout=15000)
        qtbot.waitUntil(lambda: led() == "error", timeout=5000)
        w.card_error.guest.click()
        assert w.current_screen() is w.offers
        qtbot.waitUntil(lambda: led() == "card", timeout=5000)
        qtbot.waitUntil(lambda: led() == "idle", timeout=5000)  # after the flash: not red any more
        assert board.board.led.base == "idle"
    finally:
        board.stop()
    assert not board.errors, board.errors


def test_unplugging_the_board_shows_on_the_service_line_and_replugging_recovers(qtbot, make_config, start_app, tmp_path):
    board = PtyBoard(tmp_path)
    board.start()
    try:
        app = start_app(make_config(peripheral={"enabled": True, "port": board.port}))
        service = app.window.service
        qtbot.waitUntil(lambda: "Reader: connected" in service.text(), timeout=10000)
        board.unplug()
        qtbot.waitUntil(lambda: "Reader: not connected – retrying" in service.text(), timeout=8000)
        board.press("neutral")  # pressed while the cable is out: arrives after the replug
        board.replug()
        qtbot.waitUntil(lambda: "Reader: connected" in service.text(), timeout=10000)
        qtbot.waitUntil(lambda: app.window.current_screen() is app.window.thanks, timeout=8000)
        assert app.feedback.pending()["neutral"] == 1
    finally:
        board.stop()
    assert not board.errors, board.errors
