"""A small stand-in for MicroPython's `machine` module, so the firmware runs under CPython in tests.

`install()` puts it into sys.modules as `machine` (plus `micropython`) and firmware/ on sys.path.
Pins are shared by number in `PINS` so a test can press a button (`PINS[2].level = 0`); SPI bus 0
(I2C bus 1) talks to whatever device the test put in `SPI_DEVICES[0]` (`I2C_DEVICES[1]`), e.g. a
transcript replayer.
"""
from __future__ import annotations

import sys
import types
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


class Pin:
    IN, OUT = 0, 1
    PULL_UP, PULL_DOWN = 1, 2

    def __init__(self, pin_id, mode=IN, pull=None, value=None):
        self.id = pin_id
        self.mode = mode
        existing = PINS.get(pin_id)
        # The pin's electrical level is shared across Pin() objects for the same number.
        self.level = existing.level if existing is not None else (1 if pull == Pin.PULL_UP else 0)
        if value is not None:
            self.level = value
        self.history: list[int] = []
        PINS[pin_id] = self

    def value(self, v=None):
        if v is None:
            return PINS[self.id].level
        PINS[self.id].level = int(bool(v))
        PINS[self.id].history.append(int(bool(v)))
        return None

    __call__ = value


class SPI:
    def __init__(self, bus, baudrate=1000000, polarity=0, phase=0, sck=None, mosi=None, miso=None):
        self.bus = bus
        self.baudrate = baudrate
        self.device = SPI_DEVICES[bus]

    def write(self, buf):
        self.device.write(bytes(buf))

    def write_readinto(self, out, into):
        self.device.write_readinto(bytes(out), into)


class I2C:
    def __init__(self, bus, sda=None, scl=None, freq=400000):
        self.bus = bus
        self.freq = freq
        self.device = I2C_DEVICES[bus]

    def writeto(self, addr, buf):
        self.device.writeto(addr, bytes(buf))

    def readfrom_into(self, addr, buf):
        self.device.readfrom_into(addr, buf)


class PWM:
    def __init__(self, pin):
        self.pin = pin
        self.duty = 0
        PWMS[pin.id] = self

    def freq(self, hz=None):
        self.hz = hz

    def duty_u16(self, duty=None):
        if duty is None:
            return self.duty
        if not 0 <= duty <= 65535:
            raise ValueError("duty out of range")
        self.duty = duty
        return None


class WDT:
    """Records feeds; `starved(now_ms)` says whether the real one would have reset the board."""

    def __init__(self, id=0, timeout=5000):
        if timeout > 8388:
            raise ValueError("rp2 WDT timeout is at most 8388 ms")
        self.timeout = timeout
        self.feeds = 0
        WDTS.append(self)

    def feed(self):
        self.feeds += 1


PINS: dict[int, Pin] = {}
PWMS: dict[int, PWM] = {}
SPI_DEVICES: dict[int, object] = {}
I2C_DEVICES: dict[int, object] = {}
WDTS: list[WDT] = []


def reset_state() -> None:
    PINS.clear()
    PWMS.clear()
    SPI_DEVICES.clear()
    I2C_DEVICES.clear()
    WDTS.clear()


def install() -> types.ModuleType:
    """Register the fake as `machine` and make the firmware importable (idempotent)."""
    module = sys.modules.get("machine")
    if module is None or not getattr(module, "IS_FAKE", False):
        module = types.ModuleType("machine")
        module.IS_FAKE = True
        for name in ("Pin", "SPI", "I2C", "PWM", "WDT", "PINS", "PWMS", "SPI_DEVICES", "I2C_DEVICES", "WDTS", "reset_state"):
            setattr(module, name, globals()[name])
        sys.modules["machine"] = module
        micro = types.ModuleType("micropython")
        micro.kbd_intr = lambda _c: None
        sys.modules.setdefault("micropython", micro)
    if str(FIRMWARE) not in sys.path:
        sys.path.insert(0, str(FIRMWARE))
    return module
