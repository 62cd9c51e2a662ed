"""Latency figures of the peripheral link: firmware board loop (fake machine) <-> PeripheralLink over a real pty.

Run: .venv/bin/python tests/helpers/bench_peripheral.py   (prints figures; not a test)
"""
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import fake_machine  # noqa: E402
from helpers.pty_board import PtyBoard, wait_until  # noqa: E402

import hal  # noqa: E402  (firmware, importable once fake_machine is installed)
from app.board import Settings  # noqa: E402

from kiosk.services.peripheral import PeripheralLink  # noqa: E402
from kiosk.status import ReaderStatus  # noqa: E402


def _figure(name: str, seconds: list[float]) -> None:
    ms = [x * 1000 for x in seconds]
    print(f"{name}: median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms (n={len(ms)})")


def _timed(got: list[float], action) -> float:
    """Seconds from `action()` to the next callback."""
    before = len(got)
    start = time.monotonic()
    action()
    wait_until(lambda: len(got) > before, 3.0, "the event")
    return got[-1] - start


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    board = PtyBoard(Path(tempfile.mkdtemp()), Settings(button_lockout_ms=50))
    board.start()
    got: list[float] = []
    stamp = lambda _value: got.append(time.monotonic())  # noqa: E731
    link = PeripheralLink(board.port, stamp, stamp, lambda _state: None)
    start = time.monotonic()
    link.start()
    wait_until(lambda: link.state == ReaderStatus.CONNECTED, 5.0, "the handshake")
    print(f"open port -> handshake done: {(time.monotonic() - start) * 1000:.0f} ms")
    pin = fake_machine.PINS[hal.PINS["happy"]]

    def press() -> None:
        pin.level = 0

    presses, damaged, taps = [], [], []
    for _ in range(20):
        presses.append(_timed(got, press))
        pin.level = 1
        time.sleep(0.1)
    _figure("button pressed -> on_button (includes the 25 ms debounce)", presses)
    for _ in range(10):
        board.link.mangle_next.append(lambda frame: frame[:-3] + b"00\n")  # first send arrives with a bad CRC
        damaged.append(_timed(got, press))
        pin.level = 1
        time.sleep(0.1)
    _figure("button pressed, first frame CRC-damaged -> on_button (one 300 ms re-send)", damaged)
    for _ in range(5):
        taps.append(_timed(got, board.chip.tap_on))
        time.sleep(0.2)
        board.chip.tap_off()
        time.sleep(1.0)
    _figure("card on the reader -> on_card (100 ms polling)", taps)
    board.unplug()
    time.sleep(0.3)
    start = time.monotonic()
    board.replug()
    wait_until(lambda: link.state == ReaderStatus.CONNECTED, 10.0, "the reconnect")
    print(f"replug -> connected: {(time.monotonic() - start) * 1000:.0f} ms")
    print(f"link counters: {link.stats}")
    link.stop()
    board.stop()


if __name__ == "__main__":
    main()
