"""Wire codec of the board <-> kiosk line protocol (see firmware/PROTOCOL.md); MicroPython subset."""

PROTO_VERSION = 1
MAX_LINE = 96  # bytes of one frame including the trailing LF
MAX_SEQ = 65535

# Frames that carry a sequence number the receiver must acknowledge and de-duplicate.
SEQUENCED = ("HELLO", "HOST", "CARD", "BTN", "LED", "FAULT")
# Control frames: never acknowledged; the SEQ field of an ACK is the acknowledged number.
CONTROL = ("ACK", "HB")
TYPES = SEQUENCED + CONTROL

FACES = ("happy", "neutral", "unhappy")
LED_STATES = ("idle", "card", "feedback", "error", "nohost", "private")


class ProtocolError(ValueError):
    """A line that is not a valid frame; the message names the problem."""


def crc16(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF); crc16(b"123456789") == 0x29B1."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
    return crc


def next_seq(seq):
    """Sequence numbers run 1..65535 and wrap to 1; 0 is reserved for HELLO/HOST."""
    return 1 if seq >= MAX_SEQ else seq + 1


def _check_token(token):
    if not token:
        raise ProtocolError("empty payload token")
    for ch in token:
        code = ord(ch)
        if code < 0x21 or code > 0x7E or ch == "*":
            raise ProtocolError("payload has a forbidden character")


def encode(kind, seq, payload=()):
    """One frame as bytes: b"TYPE SEQ[ TOKEN...] *CRC\\n"."""
    if kind not in TYPES:
        raise ProtocolError("unknown frame type %s" % kind)
    if seq < 0 or seq > MAX_SEQ:
        raise ProtocolError("sequence number out of range")
    parts = [kind, str(seq)]
    for token in payload:
        _check_token(token)
        parts.append(token)
    body = " ".join(parts).encode()
    line = body + (" *%04X\n" % crc16(body)).encode()
    if len(line) > MAX_LINE:
        raise ProtocolError("frame longer than %d bytes" % MAX_LINE)
    return line


def decode(line):
    """Parse one line (without its LF; a trailing CR is tolerated) into (type, seq, payload tuple)."""
    if line[-1:] == b"\r":
        line = line[:-1]
    if len(line) + 1 > MAX_LINE:
        raise ProtocolError("frame too long")
    for byte in line:
        if byte < 0x20 or byte > 0x7E:
            raise ProtocolError("non-printable byte in frame")
    star = line.rfind(b" *")
    if star < 0 or len(line) - star != 6:
        raise ProtocolError("no CRC field")
    body = line[:star]
    crc_text = line[star + 2:]
    for byte in crc_text:
        if not (0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x46):
            raise ProtocolError("CRC is not 4 upper-case hex digits")
    if int(crc_text.decode(), 16) != crc16(body):
        raise ProtocolError("CRC mismatch")
    parts = body.decode().split(" ")
    if len(parts) < 2:
        raise ProtocolError("missing sequence number")
    kind = parts[0]
    if kind not in TYPES:
        raise ProtocolError("unknown frame type")
    text = parts[1]
    if not text.isdigit() or (len(text) > 1 and text[0] == "0") or len(text) > 5:
        raise ProtocolError("bad sequence number")
    seq = int(text)
    if seq > MAX_SEQ:
        raise ProtocolError("sequence number out of range")
    payload = tuple(parts[2:])
    for token in payload:
        _check_token(token)
    return kind, seq, payload


class LineReader:
    """Splits a byte stream into lines; drops over-long lines up to the next LF and counts them."""

    def __init__(self):
        self._buf = bytearray()
        self._skipping = False
        self.overflows = 0

    def feed(self, data):
        """Add received bytes; returns the complete lines (without LF) found so far."""
        lines = []
        for byte in data:
            if byte == 0x0A:
                if self._skipping:
                    self._skipping = False
                elif self._buf:
                    lines.append(bytes(self._buf))
                self._buf = bytearray()
            elif self._skipping:
                continue
            elif len(self._buf) >= MAX_LINE:
                self._buf = bytearray()
                self._skipping = True
                self.overflows += 1
            else:
                self._buf.append(byte)
        return lines

    def reset(self):
        self._buf = bytearray()
        self._skipping = False
