"""`moodkiosk peripheral`: watch the peripheral board on its serial port (installer's check).

Prints the link state, card taps (length only, never the number) and button presses as they
arrive, optionally sets the status light, and ends with the link's counters."""
from __future__ import annotations

import argparse
import errno
import os
import queue
import time

import serial

from kiosk.errors import KioskError
from kiosk.services.peripheral import PeripheralLink
from kiosk.status import ReaderStatus
from kiosk.services.peripheral_codec import LED_STATES
from vision.cli_types import seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", help="kiosk config TOML: use its [peripheral] port and baudrate")
    source.add_argument("--port", help="serial device of the board, e.g. /dev/serial/by-id/usb-MicroPython...")
    parser.add_argument("--baudrate", type=int, default=None, help="serial speed (default 115200 or the config's)")
    parser.add_argument("--seconds", type=seconds, default=None, help="stop after this long (default: until Ctrl-C)")
    parser.add_argument("--led", choices=LED_STATES, default=None, help="status-light state to set once connected")


def main(args: argparse.Namespace) -> int:
    port, baudrate, where = args.port, args.baudrate, "--port"
    if port is None:
        from kiosk.config import load_config

        config = load_config(args.config)
        port = config.peripheral.port
        baudrate = baudrate or config.peripheral.baudrate
        where = f"{args.config or 'demo defaults'}: peripheral.port"
    probe_port(port, baudrate or 115200, where)
    lines: queue.Queue[str] = queue.Queue()
    link = PeripheralLink(
        port,
        on_card=lambda uid: lines.put(f"card tap ({len(uid)} hex digits)"),
        on_button=lambda face: lines.put(f"button {face}"),
        on_state=lambda state: lines.put(f"state {state}"),
        baudrate=baudrate or 115200,
    )
    if args.led:
        link.set_led(args.led)
    print(f"watching {port} (Ctrl-C to stop)", flush=True)
    ever_connected = False
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    link.start()
    try:
        while deadline is None or time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line == f"state {ReaderStatus.CONNECTED}":
                ever_connected = True
                line += f" (firmware {link.firmware_version})"
            print(line, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        link.stop()
    stats = link.stats
    print(
        f"cards {stats.cards}, buttons {stats.buttons}, duplicates {stats.duplicates}, "
        f"bad frames {stats.bad_frames}, rejected {stats.rejected}, connects {stats.connects}, "
        f"board resets {stats.board_resets}"
    )
    if not ever_connected:
        raise KioskError(f"peripheral board on {port} never answered the handshake")
    return 0


def probe_port(port: str, baudrate: int, where: str) -> None:
    """Open and close the port once, so a wrong or missing one is one clear line, not an endless retry.
    (Once watching, an unplug is retried: that is what the installer wants to see.)"""
    try:
        serial.Serial(port, baudrate, exclusive=True).close()
    except (serial.SerialException, OSError, ValueError) as exc:
        code = getattr(exc, "errno", None)
        reason = os.strerror(code) if isinstance(code, int) else str(exc)
        hint = ""
        if code == errno.ENOENT:
            hint = " (is the board plugged in? see ls /dev/serial/by-id/)"
        elif code in (errno.EAGAIN, errno.EWOULDBLOCK):
            hint = " (in use by another program: is the kiosk running?)"
        raise KioskError(f"{where}: cannot open serial port {port}: {reason}{hint}") from exc
