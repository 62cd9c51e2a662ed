"""`moodkiosk demo`: the kiosk windowed on embedded defaults (demo loyalty data, demo camera, no broker)."""
from __future__ import annotations

import argparse
import logging
import re

from kiosk.config import KioskConfig, load_config
from kiosk.errors import KioskError

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                        help="quit by itself after this many seconds and print the longest UI-thread stall")
    parser.add_argument("--language", choices=("en", "de"), default=None, help="shopper language (default en)")
    parser.add_argument("--size", default=None, metavar="WxH",
                        help="window size, e.g. 1080x1920 (portrait) or 1920x1080 (landscape, default)")
    parser.add_argument("--camera", default=None, metavar="SOURCE",
                        help='camera source instead of "demo": a device index, video file, image folder or rtsp:// URL')
    parser.add_argument("--no-camera", action="store_true", help="run with the camera off (cards and buttons only)")
    parser.add_argument("--config", default=None, help="start from this config file instead of the embedded defaults")


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{3,5})\s*[xX×]\s*(\d{3,5})\s*", text)
    if not match:
        raise KioskError(f"--size: expected WIDTHxHEIGHT like 1080x1920, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def demo_config(args: argparse.Namespace) -> KioskConfig:
    """The demo's config: embedded defaults, demo data in its own loyalty file, windowed, no broker."""
    base = load_config(args.config)
    camera = base.camera.model_copy(update={
        "enabled": base.camera.enabled and not args.no_camera,
        "source": args.camera or base.camera.source,
    })
    loyalty = base.loyalty
    if args.config is None:
        loyalty = loyalty.model_copy(update={"db_path": base.data_dir / "demo-loyalty.sqlite", "seed_demo_data": True})
    update: dict[str, object] = {
        "camera": camera,
        "loyalty": loyalty,
        "ui": base.ui.model_copy(update={"fullscreen": False}),
    }
    if args.config is None:
        update["mqtt"] = base.mqtt.model_copy(update={"enabled": False})
    if args.language:
        update["language"] = args.language
    return base.model_copy(update=update)


def main(args: argparse.Namespace) -> int:
    size = parse_size(args.size) if args.size else None
    config = demo_config(args)
    from kiosk.app import KioskApp

    app = KioskApp(config, fullscreen=False, size=size)
    result = app.run(duration_s=args.duration)
    if result.stalls is not None:
        print(result.stalls.line(), flush=True)
    return result.exit_code
