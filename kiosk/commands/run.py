"""`moodkiosk run --config FILE`: the kiosk full-screen, as it runs in a store."""
from __future__ import annotations

import argparse
import logging

from kiosk.config import load_config

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="kiosk TOML config file (see kiosk/config.example.toml)")
    parser.add_argument("--windowed", action="store_true", help="run in a window instead of full-screen (staff / testing)")
    parser.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                        help="quit by itself after this many seconds (soak tests)")


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config)  # a bad config fails here, before any window opens
    from kiosk.app import KioskApp

    app = KioskApp(config, fullscreen=False if args.windowed else None)
    result = app.run(duration_s=args.duration)
    if result.stalls is not None:
        print(result.stalls.line(), flush=True)
    return result.exit_code
