"""The board's `private` light ("without mood reading"): firmware logic, both codecs, and over a real pty."""
from __future__ import annotations

import pytest

from helpers.pty_board import PtyBoard, wait_until
from kiosk.services.peripheral import PeripheralLink
from kiosk.services.peripheral_codec import LED_STATES as HOST_STATES

from helpers import fake_machine

fake_machine.install()

from app.led import COLORS, Led  # noqa: E402
from app.protocol import LED_STATES as BOARD_STATES  # noqa: E402


def test_both_sides_know_the_private_state() -> None:
    assert "private" in HOST_STATES and "private" in BOARD_STATES and "private" in COLORS


def test_private_is_a_base_state_under_local_flashes() -> None:
    led = Led()
    led.host_ok = True
    led.host_command("private", 0)
    assert led.state(0) == "private" and led.color(0) == COLORS["private"]
    led.command("card", 100)  # a tap on the board flashes green locally...
    assert led.state(200) == "card"
    assert led.state(2000) == "private"  # ...and the violet base comes back
    led.fault = True
    assert led.state(2000) == "error"  # a reader fault still shows


@pytest.mark.timeout(30)
def test_kiosk_sets_the_private_light_over_a_pty(tmp_path) -> None:
    board = PtyBoard(tmp_path)
    board.start()
    states: list[str] = []
    link = PeripheralLink(board.port, on_card=lambda uid: None, on_button=lambda face: None, on_state=states.append)
    link.start()
    try:
        wait_until(lambda: link.state == "connected", 5.0, "the handshake")
        link.set_led("private")
        wait_until(lambda: board.board.led.state(board.board.clock.ticks_ms()) == "private", 10.0, "LED private")
        assert board.board.bad_frames == 0
        link.set_led("idle")
        wait_until(lambda: board.board.led.state(board.board.clock.ticks_ms()) == "idle", 10.0, "LED idle")
    finally:
        link.stop()
        board.stop()
    assert not board.errors, board.errors
