"""Card input: check digits, normalisation, keyboard-wedge timing, serial and QR parsing, keyed hash."""
from __future__ import annotations

import pytest

from kiosk.services.cards import (
    CardHasher, CardStatus, CardValidator, KeyboardWedge, ean13_check_digit, ean13_ok, luhn_check_digit, luhn_ok,
    parse_qr_payload, parse_serial_line,
)


@pytest.mark.parametrize("number, ok", [
    ("4006381333931", True), ("4006381333932", False), ("5901234123457", True), ("590123412345", False),
    ("400638133393a", False), ("²" * 13, False),
])
def test_ean13(number: str, ok: bool) -> None:
    assert ean13_ok(number) is ok


@pytest.mark.parametrize("number, ok", [
    ("79927398713", True), ("79927398710", False), ("4539578763621486", True), ("4539578763621487", False),
    ("0", False), ("²²", False),
])
def test_luhn(number: str, ok: bool) -> None:
    assert luhn_ok(number) is ok


def test_check_digit_helpers_complete_numbers() -> None:
    for body in ("290000000001", "400638133393", "000000000000"):
        assert ean13_ok(body + ean13_check_digit(body))
    for body in ("7992739871", "601200000000001"):
        assert luhn_ok(body + luhn_check_digit(body))


def test_validator_accepts_any_configured_format_and_normalises() -> None:
    validator = CardValidator(["ean13", "luhn"], 8, 19)
    ean = validator.check(" 4006 3813-33931\n", "wedge")
    assert (ean.status, ean.card_id, ean.format, ean.source) == (CardStatus.VALID, "4006381333931", "ean13", "wedge")
    luhn = validator.check("4539578763621486", "serial")
    assert luhn.valid and luhn.format == "luhn"
    only_ean = CardValidator(["ean13"]).check("4539578763621486", "wedge")
    assert not only_ean.valid and only_ean.reason == "check digit fails for ean13"


@pytest.mark.parametrize("raw, reason", [
    ("", "empty read"),
    ("   ", "empty read"),
    ("40063813339X1", "contains characters other than digits"),
    ("1234", "too short (4 < 8 digits)"),
    ("1" * 25, "too long (25 > 19 digits)"),
    ("4006381333933", "check digit fails for ean13 / luhn"),
    ("²" * 13, "contains characters other than digits"),  # isdigit() takes it, int() does not
    ("４００６３８１３３３９３１", "contains characters other than digits"),  # full-width: a second spelling of a card
    ("٤٠٠٦٣٨١٣٣٣٩٣١", "contains characters other than digits"),  # Arabic-Indic digits
])
def test_validator_reasons(raw: str, reason: str) -> None:
    check = CardValidator(["ean13", "luhn"], 8, 19).check(raw, "wedge")
    assert (check.status, check.card_id, check.reason) == (CardStatus.MALFORMED, None, reason)


def test_digits_format_skips_the_check_digit() -> None:
    assert CardValidator(["digits"], 6, 12).check("123456", "qr").valid
    with pytest.raises(ValueError, match="unknown card formats"):
        CardValidator(["ean8"])


@pytest.mark.parametrize("line, expected", [
    ("CARD 4006381333931", "4006381333931"), ("card  4006381333931 \r\n", "4006381333931"), ("CARD", ""),
    ("BUTTON happy", None), ("CARDS 1", None), ("", None),
])
def test_serial_card_lines(line: str, expected: str | None) -> None:
    assert parse_serial_line(line) == expected


@pytest.mark.parametrize("payload, expected", [
    ("moodkiosk:card:4006381333931", "4006381333931"), ("MOODKIOSK:CARD: 4006381333931 ", "4006381333931"),
    ("4006381333931", "4006381333931"), ("4006 3813 3393 1", "4006 3813 3393 1"),
    ("https://example.org/?card=4006381333931", None), ("WIFI:S:shop;;", None), ("", None),
    ("moodkiosk:card:", ""), ("²" * 13, None), ("４００６３８１３３３９３１", None),
])
def test_qr_payloads(payload: str, expected: str | None) -> None:
    assert parse_qr_payload(payload) == expected


def _type(wedge: KeyboardWedge, text: str, start: float, gap: float) -> float:
    t = start
    for char in text:
        wedge.key(char, t)
        t += gap
    return t


def test_wedge_burst_is_a_scan() -> None:
    wedge = KeyboardWedge(max_key_gap_s=0.05)
    end = _type(wedge, "4006381333931", 10.0, 0.01)
    assert wedge.enter(end) == "4006381333931"
    assert wedge.enter(end + 0.01) is None  # buffer cleared


def test_wedge_ignores_a_person_typing() -> None:
    wedge = KeyboardWedge(max_key_gap_s=0.05)
    end = _type(wedge, "4006381333931", 10.0, 0.25)
    assert wedge.enter(end) is None


def test_wedge_drops_keys_before_a_pause_and_slow_enter() -> None:
    wedge = KeyboardWedge(max_key_gap_s=0.05)
    t = _type(wedge, "12", 0.0, 0.01)
    t = _type(wedge, "4006381333931", t + 1.0, 0.01)
    assert wedge.enter(t) == "4006381333931"
    t = _type(wedge, "4006381333931", t + 5, 0.01)
    assert wedge.enter(t + 1.0) is None  # Enter long after the digits: not one burst


def test_wedge_short_bursts_and_overlong_input() -> None:
    wedge = KeyboardWedge(max_key_gap_s=0.05, min_length=4, max_length=20)
    assert wedge.enter(_type(wedge, "12", 0.0, 0.01)) is None
    scanned = wedge.enter(_type(wedge, "9" * 100, 5.0, 0.001))
    assert scanned is not None and len(scanned) == 21  # kept just far enough to be reported as too long
    assert CardValidator(["digits"], 4, 20).check(scanned, "wedge").reason == "too long (21 > 20 digits)"
    wedge.key("\x1b", 9.0)  # non-printable keys are not part of a scan
    assert wedge.enter(9.0) is None


def test_keyed_hash() -> None:
    hasher = CardHasher(b"secret-key-of-a-deployment-0001")
    other = CardHasher(b"secret-key-of-a-deployment-0002")
    digest = hasher("4006381333931")
    assert digest == hasher("4006381333931") and digest.startswith("card:") and len(digest) == 21
    assert digest != other("4006381333931") and digest != hasher("4006381333932")
    assert "4006381333931" not in digest
    with pytest.raises(ValueError):
        CardHasher(b"short")
