"""Loyalty card input: check digits, keyboard-wedge scans, serial `CARD <id>` lines, QR payloads, keyed hashes."""
from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Iterable

logger = logging.getLogger(__name__)

_SEPARATORS = re.compile(r"[\s-]+")  # printed card numbers are often grouped with spaces or dashes


def _ascii_digits(text: str) -> bool:
    """Only 0-9: str.isdigit() alone also takes "²" (which int() refuses) and full-width or Arabic-Indic
    digits (a second spelling of the same card number)."""
    return text.isascii() and text.isdigit()


class CardStatus(enum.Enum):
    VALID = "valid"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class CardCheck:
    """Result of checking one card read; `card_id` is the normalised number (None when malformed)."""

    status: CardStatus
    card_id: str | None
    reason: str | None
    source: str
    format: str | None = None

    @property
    def valid(self) -> bool:
        return self.status is CardStatus.VALID


def ean13_ok(digits: str) -> bool:
    """EAN-13 check digit: weights 1,3,1,3... over the first 12 digits, the 13th makes the sum a multiple of 10."""
    if len(digits) != 13 or not _ascii_digits(digits):
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == int(digits[12])


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) check digit, as used by payment and many loyalty cards."""
    if len(digits) < 2 or not _ascii_digits(digits):
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def ean13_check_digit(first12: str) -> str:
    """The digit that completes a 12-digit EAN-13 body (used by the demo data generator)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def luhn_check_digit(body: str) -> str:
    """The digit that completes `body` to a valid Luhn number."""
    for candidate in "0123456789":
        if luhn_ok(body + candidate):
            return candidate
    raise AssertionError("unreachable: one of ten digits always completes a Luhn number")


_CHECKERS = {"ean13": ean13_ok, "luhn": luhn_ok, "digits": lambda digits: True}


class CardValidator:
    """Checks a raw read against the configured formats and length bounds."""

    def __init__(self, formats: Iterable[str], min_length: int = 8, max_length: int = 19) -> None:
        self.formats = tuple(formats)
        unknown = [f for f in self.formats if f not in _CHECKERS]
        if unknown or not self.formats:
            raise ValueError(f"unknown card formats {unknown!r}; expected some of {sorted(_CHECKERS)}")
        self.min_length = min_length
        self.max_length = max_length

    @classmethod
    def from_config(cls, cards_config: object) -> "CardValidator":
        return cls(cards_config.formats, cards_config.min_length, cards_config.max_length)  # type: ignore[attr-defined]

    def check(self, raw: str, source: str) -> CardCheck:
        digits = _SEPARATORS.sub("", raw or "")
        if not digits:
            return CardCheck(CardStatus.MALFORMED, None, "empty read", source)
        if not _ascii_digits(digits):
            return CardCheck(CardStatus.MALFORMED, None, "contains characters other than digits", source)
        if len(digits) < self.min_length:
            return CardCheck(CardStatus.MALFORMED, None, f"too short ({len(digits)} < {self.min_length} digits)", source)
        if len(digits) > self.max_length:
            return CardCheck(CardStatus.MALFORMED, None, f"too long ({len(digits)} > {self.max_length} digits)", source)
        for name in self.formats:
            if _CHECKERS[name](digits):
                return CardCheck(CardStatus.VALID, digits, None, source, name)
        return CardCheck(
            CardStatus.MALFORMED, None, f"check digit fails for {' / '.join(self.formats)}", source
        )


def parse_serial_line(line: str) -> str | None:
    """The card id of a serial `CARD <id>` line ('' when the id is missing); None for any other line."""
    text = line.strip()
    head, _, rest = text.partition(" ")
    if head.upper() != "CARD":
        return None
    return rest.strip()


def parse_qr_payload(text: str, prefix: str = "moodkiosk:card:") -> str | None:
    """The card number in a loyalty-app QR code (`<prefix><id>` or a bare number); None if it is not ours."""
    payload = (text or "").strip()
    if prefix and payload.lower().startswith(prefix.lower()):
        return payload[len(prefix):].strip()
    if payload and _ascii_digits(_SEPARATORS.sub("", payload)):
        return payload
    return None


class KeyboardWedge:
    """Tells a card reader typing digits + Enter from a person at a keyboard, by the gap between keys.

    Feed every key with its time (seconds); `enter()` returns the scanned text, or None when the burst was
    too slow (a human), too short, or empty. Input beyond `max_length` is kept only as far as needed to
    report it as too long.
    """

    def __init__(self, max_key_gap_s: float = 0.08, min_length: int = 4, max_length: int = 64) -> None:
        self.max_key_gap_s = max_key_gap_s
        self.min_length = min_length
        self.max_length = max_length
        self._buffer: list[str] = []
        self._last: float | None = None

    def reset(self) -> None:
        self._buffer.clear()
        self._last = None

    def key(self, char: str, now: float) -> None:
        """One printable character typed at `now`."""
        if len(char) != 1 or not char.isprintable():
            return
        if self._last is not None and now - self._last > self.max_key_gap_s:
            self._buffer.clear()  # a pause: what came before was typed by hand
        self._last = now
        if len(self._buffer) <= self.max_length:
            self._buffer.append(char)

    def enter(self, now: float) -> str | None:
        """Enter pressed at `now`: the scanned text when it came as one fast burst, else None."""
        fast = self._last is not None and now - self._last <= self.max_key_gap_s
        text = "".join(self._buffer)
        self.reset()
        if not fast or len(text) < self.min_length:
            if text:
                logger.debug("Keyboard input of %d chars was not a card scan (too slow or short)", len(text))
            return None
        return text


class CardHasher:
    """Keyed hash (HMAC-SHA256, per-deployment secret) so logs and telemetry never carry a clear card number."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("card hash key must be at least 16 bytes")
        self._key = key

    def __call__(self, card_id: str) -> str:
        digest = hmac.new(self._key, card_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"card:{digest[:16]}"
