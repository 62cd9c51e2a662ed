"""Start and stop the kiosk (demo camera, offscreen) N times in one process, then exit normally (a fatal error
at interpreter shutdown shows in the exit code and stderr); prints how many camera frames reached the UI."""
from __future__ import annotations

import sys

from PySide6.QtCore import QTimer

from kiosk.app import KioskApp
from kiosk.config import demo_config


def main() -> int:
    cycles, seconds = int(sys.argv[1]), float(sys.argv[2])
    frames = 0
    for _ in range(cycles):
        app = KioskApp(demo_config(), fullscreen=False, size=(960, 540))
        QTimer.singleShot(round(seconds * 1000), app.qt.quit)
        app.run(measure_stalls=False)
        frames += app.bridge.frames_in
        app.window.deleteLater()
    print(f"cycles {cycles} frames {frames}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
