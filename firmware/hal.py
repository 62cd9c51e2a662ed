"""The only module touching `machine`: pins, SPI, USB stdio, watchdog and ticks of a Raspberry Pi Pico.

Pin table (see README.md): MFRC522 on SPI0 (SCK GP18, MOSI GP19, MISO GP16, CS GP17, RST GP20)
or PN532 on I2C1 (SDA GP6, SCL GP7);
buttons to GND with internal pull-ups (happy GP2, neutral GP3, unhappy GP4); RGB LED PWM
(red GP13, green GP14, blue GP15, common cathode, 220 ohm each).
"""

import sys

import machine

try:
    from time import sleep_ms, ticks_add, ticks_diff, ticks_ms
except ImportError:  # CPython (tests): a monotonic clock that never wraps in a test's lifetime
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_diff(new, old):
        return new - old

    def ticks_add(ticks, delta):
        return ticks + delta

    def sleep_ms(ms):
        _time.sleep(ms / 1000)

PINS = {
    "spi_sck": 18,
    "spi_mosi": 19,
    "spi_miso": 16,
    "rfid_cs": 17,
    "rfid_rst": 20,
    "i2c_sda": 6,  # PN532 alternative on I2C1
    "i2c_scl": 7,
    "happy": 2,
    "neutral": 3,
    "unhappy": 4,
    "led_r": 13,
    "led_g": 14,
    "led_b": 15,
}
SPI_BAUD = 1000000
I2C_FREQ = 100000
READER = "mfrc522"  # or "pn532" (I2C mode, DIP switches I0=1 I1=0)
PWM_FREQ = 1000
WDT_TIMEOUT_MS = 4000  # rp2 allows up to 8388 ms; the loop runs every few ms


class Clock:
    ticks_ms = staticmethod(ticks_ms)
    ticks_diff = staticmethod(ticks_diff)
    ticks_add = staticmethod(ticks_add)
    sleep_ms = staticmethod(sleep_ms)


class Buttons:
    """Three buttons wired to GND: a pin reads 0 while pressed."""

    def __init__(self, names=("happy", "neutral", "unhappy")):
        self._pins = {}
        for name in names:
            self._pins[name] = machine.Pin(PINS[name], machine.Pin.IN, machine.Pin.PULL_UP)

    def levels(self):
        out = {}
        for name in self._pins:
            out[name] = self._pins[name].value() == 0
        return out


class RgbLight:
    """Common-cathode RGB LED on three PWM pins; show((r, g, b)) with 0..255 per channel."""

    def __init__(self):
        self._pwms = []
        for key in ("led_r", "led_g", "led_b"):
            pwm = machine.PWM(machine.Pin(PINS[key]))
            pwm.freq(PWM_FREQ)
            pwm.duty_u16(0)
            self._pwms.append(pwm)

    def show(self, rgb):
        for pwm, level in zip(self._pwms, rgb):
            pwm.duty_u16(level * 257)


class UsbLink:
    """The board's USB CDC serial (MicroPython stdio), read without blocking.

    Ctrl-C (0x03) in the byte stream must not stop the program, so keyboard interrupt is off."""

    def __init__(self):
        import micropython
        import select

        micropython.kbd_intr(-1)
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def read(self):
        data = bytearray()
        while len(data) < 64 and self._poll.poll(0):
            data += self._in.read(1)
        return bytes(data)

    def write(self, frame):
        self._out.write(frame)


def make_reader(kind=READER):
    """The card-reader chip; both drivers offer init() / read_uid()."""
    if kind == "pn532":
        from drivers.pn532 import PN532

        i2c = machine.I2C(1, sda=machine.Pin(PINS["i2c_sda"]), scl=machine.Pin(PINS["i2c_scl"]), freq=I2C_FREQ)
        return PN532(i2c, sleep_ms)
    if kind != "mfrc522":
        raise ValueError("unknown reader " + kind)
    from drivers.mfrc522 import MFRC522

    spi = machine.SPI(
        0,
        baudrate=SPI_BAUD,
        polarity=0,
        phase=0,
        sck=machine.Pin(PINS["spi_sck"]),
        mosi=machine.Pin(PINS["spi_mosi"]),
        miso=machine.Pin(PINS["spi_miso"]),
    )
    cs = machine.Pin(PINS["rfid_cs"], machine.Pin.OUT, value=1)
    rst = machine.Pin(PINS["rfid_rst"], machine.Pin.OUT, value=1)
    return MFRC522(spi, cs, rst, sleep_ms)


def watchdog(timeout_ms=WDT_TIMEOUT_MS):
    """Started first thing in main.py: once running it cannot be stopped, only fed."""
    return machine.WDT(timeout=timeout_ms)


def boot_id():
    """A fresh random id per boot (8 hex digits) so the kiosk can tell a reset from a reconnect."""
    import os

    return "".join(["%02X" % b for b in os.urandom(4)])


def safe_mode():
    """Happy and unhappy held at power-up: skip the app and stay at the REPL (for flashing)."""
    levels = Buttons().levels()
    return levels["happy"] and levels["unhappy"]


def build_board(link=None, settings=None):
    """Wire the real peripherals (or a given link, in the tests) into the app's Board."""
    from app.board import Board

    return Board(
        link if link is not None else UsbLink(),
        Buttons(),
        make_reader(),
        RgbLight(),
        Clock(),
        boot_id(),
        settings,
    )
