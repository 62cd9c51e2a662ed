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

from kiosk.services.peripheral import CONNECTED, PeripheralLink  # noqa: E402


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    tmp = Path(tempfile.mkdtemp())

    b = PtyBoard(tmp, Settings(button_lockout_ms=50))
    b.start()
    got = []
    link = PeripheralLink(b.port, lambda u: got.append(time.monotonic()), lambda f: got.append(time.monotonic()), lambda s: None)
    t0 = time.monotonic(); link.start()
    wait_until(lambda: link.state == CONNECTED, 5)
    print("handshake s", round(time.monotonic() - t0, 3))
    lat = []
    for i in range(20):
        n = len(got)
        t = time.monotonic()
        pin = fake_machine.PINS[hal.PINS["happy"]]; pin.level = 0
        wait_until(lambda: len(got) > n, 3)
        lat.append(got[-1] - t); pin.level = 1; time.sleep(0.1)
    print("press->on_button ms (incl. 25 ms debounce): median %.1f max %.1f" % (statistics.median(lat)*1000, max(lat)*1000))
    lat=[]
    for i in range(10):
        n = len(got)
        b.link.mangle_next.append(lambda f: f[:-3] + b"00\n")
        t = time.monotonic(); pin.level = 0
        wait_until(lambda: len(got) > n, 3)
        lat.append(got[-1] - t); pin.level = 1; time.sleep(0.1)
    print("press with first frame CRC-damaged ms: median %.1f max %.1f" % (statistics.median(lat)*1000, max(lat)*1000))
    lat=[]
    for i in range(5):
        n = len(got); b.chip.tap_on(); t = time.monotonic()
        wait_until(lambda: len(got) > n, 3); lat.append(got[-1]-t); time.sleep(0.2); b.chip.tap_off(); time.sleep(1.0)
    print("card on reader->on_card ms (100 ms poll): median %.1f max %.1f" % (statistics.median(lat)*1000, max(lat)*1000))
    b.unplug(); time.sleep(0.3); t = time.monotonic(); b.replug()
    wait_until(lambda: link.state == CONNECTED, 10)
    print("replug->connected s", round(time.monotonic() - t, 3), "stats", link.stats)
    link.stop(); b.stop()


if __name__ == "__main__":
    main()
