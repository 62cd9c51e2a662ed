"""The PN532 driver (I2C) against recorded transfers (tests/unit/data/pn532_transcripts.json):
the same init()/read_uid() contract as the MFRC522, so either chip plugs into the board."""
from __future__ import annotations

import pytest

from helpers.fake_machine import install
from helpers.reader_transcripts import PN532_TRANSCRIPTS as T, ReplayI2C, TranscriptMismatch

install()

from drivers.pn532 import PN532, ReaderError, frame  # noqa: E402


def _driver(*parts: list[dict]) -> tuple[PN532, ReplayI2C]:
    bus = ReplayI2C([ex for part in parts for ex in part])
    return PN532(bus), bus


def test_frame_layout_matches_the_manual_example() -> None:
    # UM0701-02: GetFirmwareVersion is 00 00 FF 02 FE D4 02 2A 00
    assert frame(0x02) == bytes.fromhex("0000ff02fed4022a00")


def test_init_checks_the_firmware_and_limits_retries() -> None:
    drv, bus = _driver(T["init"])
    drv.init()
    assert drv.version == (1, 6) and bus.done


def test_no_card_is_none() -> None:
    drv, bus = _driver(T["poll_absent"])
    assert drv.read_uid() is None and bus.done


@pytest.mark.parametrize("name", ["poll_tap_uid4", "poll_tap_uid7"])
def test_tap_reads_the_uid(name: str) -> None:
    drv, bus = _driver(T[name]["exchanges"])
    assert drv.read_uid() == bytes.fromhex(T[name]["uid"]) and bus.done


def test_damaged_response_is_a_reader_error_never_a_wrong_uid() -> None:
    drv, _ = _driver(T["poll_bad_checksum"])
    with pytest.raises(ReaderError, match="checksum"):
        drv.read_uid()


def test_silent_chip_is_a_reader_error() -> None:
    bus = ReplayI2C([T["init"][0]] + [{"op": "read", "data": "00", "note": "busy"}] * 60)
    with pytest.raises(ReaderError, match="did not acknowledge"):
        PN532(bus).init()


def test_driver_deviating_from_the_record_is_caught() -> None:
    drv, _ = _driver(T["poll_absent"])
    with pytest.raises(TranscriptMismatch):
        drv.command(0x02)


def test_hal_builds_the_pn532_on_i2c1_and_the_board_reads_a_tap_with_it() -> None:
    from helpers import fake_machine

    import hal
    from app.board import Board

    fake_machine.reset_state()
    fake_machine.I2C_DEVICES[1] = ReplayI2C(T["init"] + T["poll_absent"] + T["poll_tap_uid7"]["exchanges"])
    sent: list[bytes] = []

    class Link:
        def read(self) -> bytes:
            return b""

        def write(self, data: bytes) -> None:
            sent.append(data)

    class Clock:
        now = 0
        ticks_ms = lambda self: self.now  # noqa: E731
        ticks_diff = staticmethod(lambda a, b: a - b)

    clock = Clock()
    board = Board(Link(), hal.Buttons(), hal.make_reader("pn532"), hal.RgbLight(), clock, "B00710AD")
    for _ in range(2):  # two 100 ms polls: no card, then the tap
        clock.now += 100
        board.step()
    assert board.events == 1 and fake_machine.I2C_DEVICES[1].done
    assert len(board.outbox) == 2  # HELLO (not yet acknowledged) and the CARD behind it
