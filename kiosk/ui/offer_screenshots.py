"""Screenshots of the offers screen at both window sizes and in both languages, on the demo store.

    QT_QPA_PLATFORM=offscreen python -m kiosk.ui.offer_screenshots --out docs/screenshots

Clara (English, redeem "till") and Anna (German, redeem "card"); PNGs at half size to keep them small.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

SIZES = ((1920, 1080), (1080, 1920))
SHOPPERS = (("en", "2900000000032", "till"), ("de", "2900000000018", "card"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    parser.add_argument("--scale", type=float, default=0.5, help="size of the saved PNGs (default 0.5)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOODKIOSK_CARD_HASH_KEY", "screenshots-only-key-0123456789abcdef")
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from kiosk.app import KioskApp
    from kiosk.config import demo_config

    args.out.mkdir(parents=True, exist_ok=True)
    QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as work:
        for language, card, redeem in SHOPPERS:
            for width, height in SIZES:
                config = demo_config(data_dir=work, camera={"enabled": False}, language=language,
                                     offers={"max_offers": 4, "redeem": redeem})
                app = KioskApp(config, fullscreen=False, size=(width, height))
                try:
                    app.start()
                    QTest.qWaitForWindowExposed(app.window, 5000)
                    app.session.card_scanned(card, "wedge")
                    QTest.qWait(200)
                    image = app.window.grab().scaled(round(width * args.scale), round(height * args.scale),
                                                     Qt.AspectRatioMode.KeepAspectRatio,
                                                     Qt.TransformationMode.SmoothTransformation)
                    path = args.out / f"offers_{width}x{height}_{language}.png"
                    image.save(str(path))
                    print(path)
                finally:
                    app.stop()
                    app.window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
