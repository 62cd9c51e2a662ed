"""Host side of the peripheral board's line protocol (firmware/PROTOCOL.md): frames, CRC, line splitting.

Written independently of the firmware's codec; both are checked against firmware/test_vectors.json.
"""
from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

PROTO_VERSION = 1
MAX_LINE = 96  # bytes of one frame including its LF
MAX_SEQ = 65535
SEQUENCED = frozenset({"HELLO", "HOST", "CARD", "BTN", "LED", "FAULT"})
TYPES = SEQUENCED | {"ACK", "HB"}
FACES = ("happy", "neutral", "unhappy")
LED_STATES = ("idle", "card", "feedback", "error", "nohost", "private")
_UID = re.compile(r"(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})")
_LINE = re.compile(rb"([A-Z]{2,8}) (0|[1-9][0-9]{0,4})((?: [\x21-\x29\x2b-\x7e]+)*) \*([0-9A-F]{4})")


class FrameError(ValueError):
    """A received line that is not a valid frame (the message says why)."""


@dataclass(frozen=True)
class Frame:
    kind: str
    seq: int
    payload: tuple[str, ...] = ()


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE, the protocol's frame check (stdlib implementation)."""
    return binascii.crc_hqx(data, 0xFFFF)


def encode(frame: Frame) -> bytes:
    if frame.kind not in TYPES:
        raise FrameError(f"unknown frame type {frame.kind!r}")
    if not 0 <= frame.seq <= MAX_SEQ:
        raise FrameError(f"sequence number {frame.seq} out of range 0..{MAX_SEQ}")
    for token in frame.payload:
        if not re.fullmatch(r"[\x21-\x29\x2b-\x7e]+", token):
            raise FrameError(f"payload token {token!r} is empty or has a space, '*' or non-ASCII")
    body = " ".join((frame.kind, str(frame.seq), *frame.payload)).encode("ascii")
    line = body + b" *%04X\n" % crc16(body)
    if len(line) > MAX_LINE:
        raise FrameError(f"frame is {len(line)} bytes, longer than {MAX_LINE}")
    return line


def decode(line: bytes) -> Frame:
    """One line without its LF (a trailing CR is tolerated) -> Frame; FrameError names the fault."""
    if line.endswith(b"\r"):
        line = line[:-1]
    if len(line) + 1 > MAX_LINE:
        raise FrameError(f"frame too long ({len(line) + 1} bytes)")
    match = _LINE.fullmatch(line)
    if match is None:
        raise FrameError("malformed frame")
    kind, seq_text, payload, crc_text = match.groups()
    body = line[: match.start(4) - 2]
    if int(crc_text, 16) != crc16(body):
        raise FrameError("CRC mismatch")
    kind_s = kind.decode()
    if kind_s not in TYPES:
        raise FrameError(f"unknown frame type {kind_s!r}")
    seq = int(seq_text)
    if seq > MAX_SEQ:
        raise FrameError(f"sequence number {seq} out of range")
    return Frame(kind_s, seq, tuple(payload.decode().split()))


def valid_uid(text: str) -> bool:
    """A card UID as the board sends it: 4, 7 or 10 bytes in upper-case hex."""
    return _UID.fullmatch(text) is not None


class LineSplitter:
    """Bytes -> complete lines; an over-long line (`max_line` bytes with its LF) is dropped up to the next LF
    and counted, so its tail never passes for a line of its own."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._skipping = False
        self.overflows = 0

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        *complete, rest = data.split(b"\n")
        for part in complete:
            if self._skipping:
                self._skipping = False
            else:
                self._buf += part
                if len(self._buf) >= self.max_line:
                    self.overflows += 1
                elif self._buf:
                    lines.append(bytes(self._buf))
            self._buf.clear()
        if not self._skipping:
            self._buf += rest
            if len(self._buf) >= self.max_line:
                self._buf.clear()
                self._skipping = True
                self.overflows += 1
        return lines

    def reset(self) -> None:
        self._buf.clear()
        self._skipping = False
