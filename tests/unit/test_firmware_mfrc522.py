"""The MFRC522 driver against recorded SPI exchanges (tests/unit/data/mfrc522_transcripts.json)."""
from __future__ import annotations

import pytest

from helpers.fake_machine import Pin, install
from helpers.reader_transcripts import TRANSCRIPTS, ReplaySPI, TranscriptMismatch

install()

from drivers.mfrc522 import MFRC522, ReaderError, crc_a  # noqa: E402


def _driver(*parts: list[dict]) -> tuple[MFRC522, ReplaySPI, Pin]:
    cs = Pin(17, Pin.OUT, value=1)
    spi = ReplaySPI([ex for part in parts for ex in part], cs)
    return MFRC522(spi, cs), spi, cs


def test_crc_a_matches_the_standard_hlta_frame() -> None:
    assert crc_a(b"\x50\x00") == bytes.fromhex("57cd")


def test_init_follows_the_record_and_reads_the_version() -> None:
    drv, spi, cs = _driver(TRANSCRIPTS["init"])
    drv.init()
    assert spi.done and drv.version == 0x92
    assert cs.level == 1 and cs.history.count(0) == len(TRANSCRIPTS["init"])


def test_no_card_gives_none() -> None:
    drv, spi, _ = _driver(TRANSCRIPTS["poll_absent"])
    assert drv.read_uid() is None
    assert spi.done


@pytest.mark.parametrize("name", ["poll_tap_uid4", "poll_tap_uid7"])
def test_card_tap_reads_the_uid_through_the_cascade(name: str) -> None:
    record = TRANSCRIPTS[name]
    drv, spi, _ = _driver(record["exchanges"])
    assert drv.read_uid() == bytes.fromhex(record["uid"])
    assert spi.done  # every recorded exchange (including HLTA) was used, no more


def test_damaged_bcc_is_no_card_not_a_wrong_uid() -> None:
    drv, spi, _ = _driver(TRANSCRIPTS["poll_bad_bcc"])
    assert drv.read_uid() is None
    assert spi.done


def test_a_missing_chip_is_a_reader_error() -> None:
    exchanges = [dict(ex) for ex in TRANSCRIPTS["init"]]
    exchanges[-1]["rx"] = "00ff"  # MISO floating high: VersionReg reads 0xFF
    drv, _, _ = _driver(exchanges)
    with pytest.raises(ReaderError, match="0xFF"):
        drv.init()


def test_driver_deviating_from_the_record_is_caught() -> None:
    drv, spi, _ = _driver(TRANSCRIPTS["poll_absent"])
    with pytest.raises(TranscriptMismatch):
        drv.anticoll(0)  # sends ANTICOLL where the record expects WUPA
