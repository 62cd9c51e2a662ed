"""MFRC522 (NXP) card reader over SPI: init, WUPA, anticollision/select cascade, HLTA -> card UID.

Reader interface shared by every driver (a PN532 over I2C would offer the same two calls):
  init()                 reset and configure the chip; raises OSError when no chip answers
  read_uid() -> bytes | None   UID of a card in the field (4, 7 or 10 bytes) or None
The driver talks to `spi` (write / write_readinto) and a chip-select `cs` pin (callable: cs(0) / cs(1)),
so the tests can put a recorded SPI transcript in their place.
"""

# Registers (datasheet section 9)
COMMAND = 0x01
COM_IRQ = 0x04
ERROR = 0x06
FIFO_DATA = 0x09
FIFO_LEVEL = 0x0A
CONTROL = 0x0C
BIT_FRAMING = 0x0D
MODE = 0x11
TX_CONTROL = 0x14
TX_ASK = 0x15
T_MODE = 0x2A
T_PRESCALER = 0x2B
T_RELOAD_H = 0x2C
T_RELOAD_L = 0x2D
VERSION = 0x37

# Commands
IDLE = 0x00
TRANSCEIVE = 0x0C
SOFT_RESET = 0x0F

# ISO 14443-3 type A
WUPA = 0x52
SEL_CMDS = (0x93, 0x95, 0x97)
CASCADE_TAG = 0x88
KNOWN_VERSIONS = (0x88, 0x90, 0x91, 0x92, 0x12, 0xB2)

MAX_IRQ_POLLS = 200  # the chip's own timer ends every transceive after 25 ms; this only catches a dead bus


class ReaderError(OSError):
    """The reader chip is missing or does not behave (bus fault, unknown version)."""


def crc_a(data):
    """ISO 14443-3 CRC_A (init 0x6363, reflected poly 0x8408) as two bytes, LSB first."""
    crc = 0x6363
    for byte in data:
        crc ^= byte
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ 0x8408
            else:
                crc >>= 1
    return bytes((crc & 0xFF, crc >> 8))


class MFRC522:
    def __init__(self, spi, cs, rst=None, sleep_ms=None):
        self._spi = spi
        self._cs = cs
        self._rst = rst
        self._sleep_ms = sleep_ms
        self.version = None

    # -- register access (one SPI transaction each, CS framed) -----------------------
    def _write(self, reg, *values):
        self._cs(0)
        try:
            self._spi.write(bytes(((reg << 1) & 0x7E,) + values))
        finally:
            self._cs(1)

    def _read(self, reg):
        buf = bytearray(2)
        self._cs(0)
        try:
            self._spi.write_readinto(bytes((((reg << 1) & 0x7E) | 0x80, 0)), buf)
        finally:
            self._cs(1)
        return buf[1]

    # -- chip set-up ---------------------------------------------------------------------
    def init(self):
        if self._rst is not None:
            self._rst(1)
        self._write(COMMAND, SOFT_RESET)
        if self._sleep_ms is not None:
            self._sleep_ms(50)
        for _ in range(MAX_IRQ_POLLS):
            if not self._read(COMMAND) & 0x10:  # PowerDown bit clears when the reset is done
                break
        else:
            raise ReaderError("MFRC522 did not come out of reset")
        self._write(T_MODE, 0x80)  # timer starts after each transmission
        self._write(T_PRESCALER, 0xA9)  # 40 kHz timer
        self._write(T_RELOAD_H, 0x03)
        self._write(T_RELOAD_L, 0xE8)  # 1000 ticks = 25 ms receive timeout
        self._write(TX_ASK, 0x40)  # 100 % ASK modulation
        self._write(MODE, 0x3D)  # CRC preset 0x6363
        tx = self._read(TX_CONTROL)
        if tx & 0x03 != 0x03:
            self._write(TX_CONTROL, tx | 0x03)  # antenna on
        version = self._read(VERSION)
        if version not in KNOWN_VERSIONS:
            raise ReaderError("no MFRC522 answers (version 0x%02X)" % version)
        self.version = version

    # -- ISO 14443-3 ---------------------------------------------------------------------
    def transceive(self, data, last_bits=0):
        """Send `data` (the last byte only `last_bits` long when non-zero); returns the reply bytes,
        or None on timeout or a damaged reply."""
        self._write(COMMAND, IDLE)
        self._write(COM_IRQ, 0x7F)  # clear interrupt flags
        self._write(FIFO_LEVEL, 0x80)  # flush FIFO
        self._write(FIFO_DATA, *data)
        self._write(BIT_FRAMING, last_bits)
        self._write(COMMAND, TRANSCEIVE)
        self._write(BIT_FRAMING, 0x80 | last_bits)  # StartSend
        for _ in range(MAX_IRQ_POLLS):
            irq = self._read(COM_IRQ)
            if irq & 0x30:  # RxIRq or IdleIRq: a reply came
                break
            if irq & 0x01:  # TimerIRq: nobody answered
                return None
        else:
            raise ReaderError("MFRC522 transceive never finished")
        if self._read(ERROR) & 0x1B:  # BufferOvfl, CollErr, ParityErr, ProtocolErr
            return None
        count = self._read(FIFO_LEVEL)
        reply = bytearray()
        for _ in range(count):
            reply.append(self._read(FIFO_DATA))
        return bytes(reply)

    def wakeup(self):
        """WUPA (7-bit frame): wakes idle and halted cards; returns ATQA or None."""
        atqa = self.transceive((WUPA,), 7)
        return atqa if atqa is not None and len(atqa) == 2 else None

    def anticoll(self, level):
        """UID part (4 bytes + BCC) of the one card in the field at cascade `level` (0..2)."""
        reply = self.transceive((SEL_CMDS[level], 0x20))
        if reply is None or len(reply) != 5:
            return None
        if reply[0] ^ reply[1] ^ reply[2] ^ reply[3] != reply[4]:
            return None
        return reply

    def select(self, level, part):
        """SELECT a card by its UID part; returns SAK or None."""
        frame = bytes((SEL_CMDS[level], 0x70)) + part
        reply = self.transceive(frame + crc_a(frame))
        if reply is None or len(reply) != 3 or crc_a(reply[:1]) != reply[1:]:
            return None
        return reply[0]

    def halt(self):
        """HLTA: the card stays quiet until the next WUPA or until it leaves the field."""
        frame = b"\x50\x00"
        self.transceive(frame + crc_a(frame))

    def read_uid(self):
        if self.wakeup() is None:
            return None
        uid = b""
        for level in range(3):
            part = self.anticoll(level)
            if part is None:
                return None
            sak = self.select(level, part)
            if sak is None:
                return None
            if part[0] == CASCADE_TAG and sak & 0x04:
                uid += part[1:4]
                continue
            uid += part[:4]
            self.halt()
            return uid
        return None
