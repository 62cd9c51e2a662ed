"""`moodkiosk run --config FILE`: the kiosk full-screen, as it runs in a store."""
from __future__ import annotations

import argparse

from kiosk.config import load_config
from vision.cli_types import seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="kiosk TOML config file (see kiosk/config.example.toml)")
    parser.add_argument("--windowed", action="store_true", help="run in a window instead of full-screen (staff / testing)")
    parser.add_argument("--duration", type=seconds, default=None, metavar="SECONDS",
                        help="quit by itself after this many seconds (soak tests)")
    parser.add_argument("--no-camera", action="store_true",
                        help="run with the camera off whatever the config says (cards and buttons only)")


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config)  # a bad config fails here, before any window opens
    if args.no_camera:
        config = config.model_copy(update={"camera": config.camera.model_copy(update={"enabled": False})})
    from kiosk.app import KioskApp

    app = KioskApp(config, fullscreen=False if args.windowed else None)
    # The 10 ms stall meter costs CPU of its own: it runs only for timed runs (soak tests, measurements).
    result = app.run(duration_s=args.duration, measure_stalls=args.duration is not None)
    if result.stalls is not None:
        print(result.stalls.line(), flush=True)
    return result.exit_code
