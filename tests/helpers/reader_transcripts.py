"""Fake buses that replay the recorded card-reader exchanges in tests/unit/data/ (MFRC522 over SPI, PN532 over I2C)."""
from __future__ import annotations

import json
import threading
from pathlib import Path

TRANSCRIPTS = json.loads(
    (Path(__file__).resolve().parents[1] / "unit" / "data" / "mfrc522_transcripts.json").read_text()
)


class TranscriptMismatch(AssertionError):
    pass


class ReplaySPI:
    """Replays exchanges in order; any byte the driver sends that differs from the record fails loudly."""

    def __init__(self, exchanges: list[dict], cs=None):
        self.exchanges = list(exchanges)
        self.pos = 0
        self.cs = cs

    def _next(self, tx: bytes, reading: bool) -> dict:
        if self.cs is not None and self.cs.value() != 0:
            raise TranscriptMismatch(f"exchange {self.pos}: chip select not asserted")
        if self.pos >= len(self.exchanges):
            raise TranscriptMismatch(f"exchange {self.pos}: driver sent {tx.hex()} past the end of the record")
        ex = self.exchanges[self.pos]
        if tx.hex() != ex["tx"] or (ex["rx"] is not None) != reading:
            raise TranscriptMismatch(f"exchange {self.pos}: driver sent {tx.hex()}, record has {ex['tx']} ({ex['note']})")
        self.pos += 1
        return ex

    def write(self, buf: bytes) -> None:
        self._next(buf, reading=False)

    def write_readinto(self, out: bytes, into: bytearray) -> None:
        ex = self._next(out, reading=True)
        into[:] = bytes.fromhex(ex["rx"])

    @property
    def done(self) -> bool:
        return self.pos == len(self.exchanges)


class ScriptedChip:
    """An MFRC522 for the board loop: replays `init`, then one recorded poll per read_uid(),
    choosing the 'card present' poll while a test holds a card on it (`tap_on()` / `tap_off()`)."""

    def __init__(self, card: str = "poll_tap_uid4"):
        self._lock = threading.Lock()
        self._card = TRANSCRIPTS[card]["exchanges"]
        self.present = False
        self.polls_with_card = 0
        self._replay = ReplaySPI(TRANSCRIPTS["init"])

    def tap_on(self) -> None:
        with self._lock:
            self.present = True

    def tap_off(self) -> None:
        with self._lock:
            self.present = False

    def _current(self) -> ReplaySPI:
        with self._lock:
            if self._replay.done:
                if self.present:
                    self.polls_with_card += 1
                self._replay = ReplaySPI(self._card if self.present else TRANSCRIPTS["poll_absent"])
            return self._replay

    def write(self, buf: bytes) -> None:
        self._current().write(buf)

    def write_readinto(self, out: bytes, into: bytearray) -> None:
        self._current().write_readinto(out, into)


PN532_TRANSCRIPTS = json.loads(
    (Path(__file__).resolve().parents[1] / "unit" / "data" / "pn532_transcripts.json").read_text()
)


class ReplayI2C:
    """Replays recorded PN532 I2C transfers; a write or read the record does not have fails loudly."""

    def __init__(self, exchanges: list[dict], address: int = 0x24):
        self.exchanges = list(exchanges)
        self.pos = 0
        self.address = address

    def _next(self, op: str, addr: int) -> dict:
        if addr != self.address:
            raise TranscriptMismatch(f"transfer {self.pos}: address 0x{addr:02X}, record has 0x{self.address:02X}")
        if self.pos >= len(self.exchanges):
            raise TranscriptMismatch(f"transfer {self.pos}: {op} past the end of the record")
        ex = self.exchanges[self.pos]
        if ex["op"] != op:
            raise TranscriptMismatch(f"transfer {self.pos}: driver did a {op}, record has {ex['op']} ({ex['note']})")
        self.pos += 1
        return ex

    def writeto(self, addr: int, buf: bytes) -> None:
        ex = self._next("write", addr)
        if bytes(buf).hex() != ex["data"]:
            raise TranscriptMismatch(f"transfer {self.pos - 1}: driver wrote {bytes(buf).hex()}, record has {ex['data']}")

    def readfrom_into(self, addr: int, buf: bytearray) -> None:
        ex = self._next("read", addr)
        data = bytes.fromhex(ex["data"])
        buf[:] = (data + b"\x00" * len(buf))[: len(buf)]  # a short record reads as zeros, like an idle bus

    @property
    def done(self) -> bool:
        return self.pos == len(self.exchanges)
