"""NXP PN532 card reader over I2C (address 0x24): the same init()/read_uid() as drivers/mfrc522.py.

The PN532 runs ISO 14443-3 anticollision itself, so read_uid() is one InListPassiveTarget command.
Frames (user manual UM0701-02, section 6.2): 00 00 FF LEN LCS D4 CMD DATA... DCS 00; every read
starts with a status byte whose bit 0 says the chip has something to hand over.
"""

ADDRESS = 0x24
ACK = b"\x00\x00\xff\x00\xff\x00"
HOST_TFI = 0xD4
CHIP_TFI = 0xD5
CMD_FIRMWARE = 0x02
CMD_SAM = 0x14
CMD_RF_CONFIG = 0x32
CMD_LIST_TARGET = 0x4A
MAX_READY_POLLS = 50  # each poll is one short I2C read; with 2 ms sleeps about 100 ms
RESPONSE_LEN = 32


class ReaderError(OSError):
    """The PN532 is missing or answered with something that is not a valid frame."""


def frame(command, params=b""):
    """The host-to-chip frame for one command."""
    data = bytes((HOST_TFI, command)) + bytes(params)
    length = len(data)
    checksum = (0x100 - (sum(data) & 0xFF)) & 0xFF
    return b"\x00\x00\xff" + bytes((length, (0x100 - length) & 0xFF)) + data + bytes((checksum, 0))


class PN532:
    def __init__(self, i2c, sleep_ms=None, address=ADDRESS):
        self._i2c = i2c
        self._sleep_ms = sleep_ms
        self._address = address
        self.version = None

    def _wait_ready(self):
        status = bytearray(1)
        for _ in range(MAX_READY_POLLS):
            self._i2c.readfrom_into(self._address, status)
            if status[0] & 0x01:
                return True
            if self._sleep_ms is not None:
                self._sleep_ms(2)
        return False

    def _read(self, n):
        buf = bytearray(n + 1)
        self._i2c.readfrom_into(self._address, buf)
        return bytes(buf[1:])  # drop the status byte

    def command(self, command, params=b""):
        """Send one command; returns the response data after the D5 (CMD+1) header."""
        self._i2c.writeto(self._address, frame(command, params))
        if not self._wait_ready():
            raise ReaderError("PN532 did not acknowledge command 0x%02X" % command)
        if self._read(len(ACK)) != ACK:
            raise ReaderError("PN532 sent no ACK frame for command 0x%02X" % command)
        if not self._wait_ready():
            raise ReaderError("PN532 did not answer command 0x%02X" % command)
        raw = self._read(RESPONSE_LEN)
        if raw[:3] != b"\x00\x00\xff":
            raise ReaderError("PN532 response has no start code")
        length = raw[3]
        if (length + raw[4]) & 0xFF or length < 2 or 5 + length + 1 > len(raw):
            raise ReaderError("PN532 response length is damaged")
        data = raw[5:5 + length]
        if (sum(data) + raw[5 + length]) & 0xFF:
            raise ReaderError("PN532 response checksum mismatch")
        if data[0] != CHIP_TFI or data[1] != command + 1:
            raise ReaderError("PN532 answered a different command")
        return data[2:]

    def init(self):
        self.command(CMD_SAM, b"\x01\x14\x01")  # normal mode, 1 s timeout, use IRQ pin
        info = self.command(CMD_FIRMWARE)
        if len(info) != 4 or info[0] != 0x32:
            raise ReaderError("no PN532 answers (IC 0x%02X)" % (info[0] if info else 0))
        self.version = (info[1], info[2])
        # Give up after one activation attempt so read_uid() returns at once when no card is there.
        self.command(CMD_RF_CONFIG, b"\x05\xff\x01\x01")

    def read_uid(self):
        reply = self.command(CMD_LIST_TARGET, b"\x01\x00")  # one target, 106 kbit/s type A
        if not reply or reply[0] == 0:
            return None
        # Tg, SENS_RES (2), SEL_RES, NFCID length, NFCID...
        if len(reply) < 6 or len(reply) < 6 + reply[5]:
            return None
        uid = reply[6:6 + reply[5]]
        return uid if len(uid) in (4, 7, 10) else None
