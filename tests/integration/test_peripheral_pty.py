"""Host PeripheralLink and the firmware's board loop over a real pseudo-terminal pair.

Every scenario ends with the same check: each card tap and button press arrived exactly once,
in order, and nothing else arrived."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from helpers.pty_board import PtyBoard, wait_until

from kiosk.services.peripheral import LinkTimings, PeripheralLink
from kiosk.status import ReaderStatus

pytestmark = pytest.mark.timeout(60)

FAST = LinkTimings(backoff_min_s=0.05, backoff_max_s=0.3, peer_timeout_s=3.5, handshake_s=1.0)


class Kiosk:
    """What the kiosk's callbacks saw, in arrival order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.states: list[str] = []

    def on_card(self, uid: str) -> None:
        with self.lock:
            self.events.append(("card", uid))

    def on_button(self, face: str) -> None:
        with self.lock:
            self.events.append(("button", face))

    def on_state(self, state: str) -> None:
        with self.lock:
            self.states.append(state)

    def wait_events(self, n: int) -> None:
        wait_until(lambda: len(self.events) >= n, 8.0, f"{n} events (have {self.events})")


@pytest.fixture()
def rig(tmp_path: Path):
    board = PtyBoard(tmp_path)
    board.start()
    kiosk = Kiosk()
    link = PeripheralLink(board.port, kiosk.on_card, kiosk.on_button, kiosk.on_state, timings=FAST)
    link.start()
    try:
        wait_until(lambda: link.state == ReaderStatus.CONNECTED, 5.0, "the handshake")
        yield board, kiosk, link
    finally:
        link.stop()
        board.stop()
    assert not board.errors, board.errors
    assert board.wdt.feeds > 0


def _settle(board: PtyBoard, link: PeripheralLink) -> None:
    """Everything the board queued has been acknowledged (nothing left to re-send)."""
    wait_until(lambda: len(board.board.outbox) == 0, 8.0, "the board's outbox to drain")


def test_tap_and_presses_arrive_exactly_once(rig) -> None:
    board, kiosk, link = rig
    board.tap(hold_s=0.5)  # held: many reads of the same card
    board.press("happy")
    board.press("unhappy")
    kiosk.wait_events(3)
    _settle(board, link)
    assert kiosk.events == [("card", "04A1B2C3"), ("button", "happy"), ("button", "unhappy")]
    assert board.chip.polls_with_card >= 3
    link.set_led("feedback")
    wait_until(lambda: board.board.led.state(board.board.clock.ticks_ms()) == "feedback", 10.0, "LED feedback")
    assert link.stats.cards == 1 and link.stats.buttons == 2


def test_garbage_truncation_bad_crc_and_lost_acks_make_no_phantom_and_lose_nothing(rig) -> None:
    board, kiosk, link = rig
    wire = board.link
    wire.to_host_garbage += b"\x00\xff\x03garbage CARD 9 DEADBEEF *0000\nBTN 5 happy\n" + b"Z" * 300
    wire.mangle_next.append(lambda f: f[:-3] + (b"0" if f[-3:-2] != b"0" else b"1") + b"\n")  # bad CRC
    board.press("happy")
    wire.mangle_next.append(lambda f: f[: len(f) // 2])  # truncated, runs into the next frame
    board.tap()
    wire.to_board_garbage += b"\xff\xfeLED 1 error *FFFF\nHB 1\n"
    wire.drop_acks = 2  # the kiosk's ACKs get lost: the board re-sends, the kiosk must de-duplicate
    board.press("neutral")
    kiosk.wait_events(3)
    _settle(board, link)
    assert kiosk.events == [("button", "happy"), ("card", "04A1B2C3"), ("button", "neutral")]
    assert wire.dropped_acks == 2 and link.stats.duplicates >= 1
    assert link.stats.bad_frames >= 3
    assert board.board.bad_frames >= 2
    assert board.board.led.base != "error"  # the forged LED frame did nothing


def test_board_reset_in_the_middle_restarts_sequence_numbers_without_losing_a_press(rig) -> None:
    board, kiosk, link = rig
    board.press("happy")
    kiosk.wait_events(1)
    _settle(board, link)
    board.reset()  # watchdog reset: new boot id, sequence numbers start again at 1
    board.press("neutral")  # same seq number as "happy" had: must not be taken for a re-send
    board.tap()
    kiosk.wait_events(3)
    _settle(board, link)
    assert kiosk.events == [("button", "happy"), ("button", "neutral"), ("card", "04A1B2C3")]
    assert link.stats.board_resets == 1 and len(set(board.boots)) == 2


def test_unplug_and_replug_reconnects_and_delivers_what_happened_meanwhile(rig) -> None:
    board, kiosk, link = rig
    board.press("happy")
    kiosk.wait_events(1)
    _settle(board, link)
    board.unplug()
    wait_until(lambda: link.state == ReaderStatus.DISCONNECTED, 5.0, "the kiosk to notice the unplug")
    board.press("unhappy")  # pressed while the cable is out: queued on the board
    board.replug()
    wait_until(lambda: link.state == ReaderStatus.CONNECTED, 5.0, "the reconnect")
    kiosk.wait_events(2)
    board.unplug()  # and once more, this time the board loses power (a new boot)
    wait_until(lambda: link.state == ReaderStatus.DISCONNECTED, 5.0, "the second unplug")
    board.replug(reset=True)
    wait_until(lambda: link.state == ReaderStatus.CONNECTED, 5.0, "the second reconnect")
    board.tap()
    kiosk.wait_events(3)
    _settle(board, link)
    assert kiosk.events == [("button", "happy"), ("button", "unhappy"), ("card", "04A1B2C3")]
    assert kiosk.states.count(ReaderStatus.CONNECTED) == 3 and ReaderStatus.DISCONNECTED in kiosk.states
    assert link.stats.board_resets == 1 and link.stats.connects == 3


def test_missing_port_is_reported_and_retried_without_raising(tmp_path: Path) -> None:
    kiosk = Kiosk()
    link = PeripheralLink(str(tmp_path / "nothing-here"), kiosk.on_card, kiosk.on_button, kiosk.on_state, timings=FAST)
    link.start()
    try:
        wait_until(lambda: ReaderStatus.DISCONNECTED in kiosk.states, 3.0, "a disconnected state")
    finally:
        link.stop()
    assert kiosk.events == []


def test_monitor_command_shows_tap_and_press_without_the_card_number(tmp_path: Path, capsys) -> None:
    from kiosk.cli import main as cli

    board = PtyBoard(tmp_path)
    board.start()
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(cli(["peripheral", "--port", board.port, "--seconds", "3", "--led", "error"])))
    runner.start()
    try:
        wait_until(lambda: board.board.led.base == "error", 10.0, "the monitor to connect and set the light")
        board.tap()
        board.press("happy")
        wait_until(lambda: len(board.board.outbox) == 0, 5.0, "delivery")
    finally:
        runner.join(10)
        board.stop()
    out = capsys.readouterr().out
    assert result == [0]
    assert "state connected (firmware 1.0.0)" in out and "card tap (8 hex digits)" in out and "button happy" in out
    assert "04A1B2C3" not in out
    assert "cards 1, buttons 1, duplicates 0" in out


def test_monitor_command_on_a_missing_port_is_one_line_error(tmp_path: Path, capsys) -> None:
    from kiosk.cli import main as cli

    port = tmp_path / "ttyNONE"
    assert cli(["peripheral", "--port", str(port)]) == 2  # no --seconds: fails at once instead of retrying forever
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"moodkiosk peripheral: error: --port: cannot open serial port {port}: No such file or directory "
        "(is the board plugged in? see ls /dev/serial/by-id/)"
    ]
    assert "watching" not in captured.out


def test_monitor_command_names_the_config_key_of_a_missing_port(tmp_path: Path, capsys) -> None:
    from kiosk.cli import main as cli

    config = tmp_path / "kiosk.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[peripheral]\nenabled = true\nport = "{tmp_path / "ttyNONE"}"\n')
    assert cli(["peripheral", "--config", str(config), "--log-level", "WARNING"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"moodkiosk peripheral: error: {config}: peripheral.port: cannot open serial port "
                   f"{tmp_path / 'ttyNONE'}: No such file or directory (is the board plugged in? see ls /dev/serial/by-id/)"]


def test_monitor_command_on_a_port_the_kiosk_holds_says_it_is_busy(tmp_path: Path, capsys) -> None:
    import serial

    from kiosk.cli import main as cli

    board = PtyBoard(tmp_path)
    board.start()
    held = serial.Serial(board.port, 115200, exclusive=True)  # the running kiosk has the port
    try:
        assert cli(["peripheral", "--port", board.port]) == 2
    finally:
        held.close()
        board.stop()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"moodkiosk peripheral: error: --port: cannot open serial port {board.port}: ")
    assert err[0].endswith("(in use by another program: is the kiosk running?)")
