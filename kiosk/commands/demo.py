"""`moodkiosk demo`: the kiosk windowed on embedded defaults (demo loyalty data, demo camera, no broker)."""
from __future__ import annotations

import argparse
import re

from kiosk.config import KioskConfig, demo_config
from kiosk.errors import KioskError
from vision.cli_types import seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=seconds, default=None, metavar="SECONDS",
                        help="quit by itself after this many seconds and print the longest UI-thread stall")
    parser.add_argument("--language", choices=("en", "de"), default=None, help="shopper language (default en)")
    parser.add_argument("--size", default=None, metavar="WxH",
                        help="window size, e.g. 1080x1920 (portrait) or 1920x1080 (landscape, default)")
    parser.add_argument("--camera", default=None, metavar="SOURCE",
                        help='camera source instead of "demo": a device index, video file, image folder or rtsp:// URL')
    parser.add_argument("--no-camera", action="store_true", help="run with the camera off (cards and buttons only)")


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{3,5})\s*[xX×]\s*(\d{3,5})\s*", text)
    if not match:
        raise KioskError(f"--size: expected WIDTHxHEIGHT like 1080x1920, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def build_config(args: argparse.Namespace) -> KioskConfig:
    """The embedded demo defaults (kiosk.config.demo_config) with this command's choices on top."""
    overrides: dict[str, object] = {}
    if args.no_camera or args.camera:
        overrides["camera"] = {"enabled": not args.no_camera, "source": args.camera or "demo"}
    if args.language:
        overrides["language"] = args.language
    return demo_config(**overrides)


def main(args: argparse.Namespace) -> int:
    size = parse_size(args.size) if args.size else None
    config = build_config(args)
    from kiosk.app import KioskApp

    app = KioskApp(config, fullscreen=False, size=size)
    # The 10 ms stall meter costs CPU of its own: it runs only for timed runs (soak tests, measurements).
    result = app.run(duration_s=args.duration, measure_stalls=args.duration is not None)
    if result.stalls is not None:
        print(result.stalls.line(), flush=True)
    return result.exit_code
