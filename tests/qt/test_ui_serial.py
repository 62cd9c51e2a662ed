"""`CARD <id>` lines from a serial reader over a real pty pair reach the screens through the bridge."""
from __future__ import annotations

import os
import threading
import time

import pytest

from kiosk.services.serial_cards import SerialCardReader
from helpers.kiosk_ui import CLARA


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def test_serial_card_line_opens_offers(qtbot, make_config, start_app, pty_pair):
    master, port = pty_pair
    app = start_app(make_config(cards={"serial_port": port}))
    w = app.window
    qtbot.waitUntil(lambda: "Reader: connected" in w.service.text(), timeout=5000)
    os.write(master, b"HELLO board\r\nnoise \xff\xfe\r\n")
    os.write(master, f"CARD {CLARA}\r\n".encode())
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=5000)
    assert w.offers.greeting.text() == "Hello Clara!"
    assert app.reader.lines_ignored == 2


def test_serial_card_without_id_is_a_friendly_error(qtbot, make_config, start_app, pty_pair):
    master, port = pty_pair
    app = start_app(make_config(cards={"serial_port": port}))
    w = app.window
    qtbot.waitUntil(lambda: "Reader: connected" in w.service.text(), timeout=5000)
    os.write(master, b"CARD \n")
    qtbot.waitUntil(lambda: w.current_screen() is w.card_error, timeout=5000)
    assert w.card_error.title.text() == "This card could not be read"


def test_reader_survives_split_lines_and_overlong_noise(pty_pair):
    master, port = pty_pair
    cards: list[str] = []
    got = threading.Event()

    def on_card(card: str) -> None:
        cards.append(card)
        got.set()

    connected = threading.Event()
    reader = SerialCardReader(port, on_card, lambda state: state == "connected" and connected.set())
    reader.start()
    try:
        assert connected.wait(5)  # pyserial flushes the input on open: write only once it is open
        os.write(master, b"x" * 600)  # no line end: dropped as noise
        os.write(master, b"\nCA")
        os.write(master, b"RD 2900000000032\n")
        assert got.wait(5)
    finally:
        reader.stop()
    assert cards == ["2900000000032"]


def test_missing_port_is_retried_and_reported(qtbot, make_config, start_app, tmp_path):
    app = start_app(make_config(cards={"serial_port": str(tmp_path / "no-such-tty")}))
    qtbot.waitUntil(lambda: "Reader: not connected" in app.window.service.text(), timeout=5000)


def test_the_tail_of_an_overlong_line_is_not_a_card(pty_pair):
    """Before: the reader dropped the first 256 bytes of a line without an end and read the rest as a line
    of its own, so noise ending in `CARD <id>` opened a session. Now the whole line is dropped."""
    master, port = pty_pair
    cards: list[str] = []
    got = threading.Event()
    connected = threading.Event()
    reader = SerialCardReader(port, lambda card: (cards.append(card), got.set()),
                              lambda state: state == "connected" and connected.set())
    reader.start()
    try:
        assert connected.wait(5)
        os.write(master, b"\x00\xff" * 200)  # 400 bytes of noise, no line end yet
        time.sleep(0.5)  # read and dropped before the rest of the same line arrives
        os.write(master, b" CARD 2900000000032\n")  # still the same, over-long line
        os.write(master, b"CARD 2900000000018\n")
        assert got.wait(5)
        time.sleep(0.3)
    finally:
        reader.stop()
    assert cards == ["2900000000018"]
    assert reader.lines_ignored == 1
