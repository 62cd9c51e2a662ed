"""`moodkiosk privacy-zones`: one live frame with the config's privacy zones drawn over it, on screen only.

For the installer: the zones (`[camera] privacy_zones`, fractions of the frame) must cover the till and any
staff area. The frame is shown in a window and kept in memory only; nothing is written to disk.
"""
from __future__ import annotations

import argparse
import time

from kiosk.config import load_config
from kiosk.errors import KioskError
from vision.cli_types import seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="kiosk config TOML (default: the embedded demo defaults)")
    parser.add_argument("--source", help="camera source instead of [camera] source (e.g. 0, rtsp://..., demo)")
    parser.add_argument("--seconds", type=seconds, default=None,
                        help="close the window after this many seconds (default: when closed or Esc is pressed)")
    parser.add_argument("--size", default="1280x720", help="window size WIDTHxHEIGHT (default 1280x720)")


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise KioskError(f"--size: {text!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (200 <= width <= 8000 and 200 <= height <= 8000):
        raise KioskError(f"--size: {text!r} is out of range (200 to 8000 pixels each side)")
    return width, height


def grab_frame(spec: str, settings: object, timeout_s: float = 10.0):  # -> numpy BGR frame
    """Open the source, read one frame (a live camera may need a few tries), close it."""
    from vision.sources import SourceError, open_source

    source = open_source(spec, settings)  # type: ignore[arg-type]
    source.open()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                frame = source.read()
            except SourceError as exc:
                raise KioskError(f"camera source {spec!r}: {exc}") from None
            if frame is not None:
                return frame.image
        raise KioskError(f"camera source {spec!r}: no frame within {timeout_s:.0f} s")
    finally:
        source.close()


def main(args: argparse.Namespace) -> int:
    if args.seconds is not None and not (0 < args.seconds <= 3600):
        raise KioskError(f"--seconds: must be in (0, 3600], got {args.seconds}")
    width, height = _size(args.size)
    config = load_config(args.config)
    from kiosk.app import ensure_screen, vision_settings

    settings = vision_settings(config)
    spec = args.source or config.camera.source
    image = settings.camera.privacy_zones.draw(grab_frame(spec, settings))
    zones = len(settings.camera.privacy_zones.polygons)
    print(f"{spec}: frame {image.shape[1]}x{image.shape[0]}, {zones} privacy zone(s) shown (nothing saved)")

    ensure_screen()
    from kiosk.ui.frame_window import show_frame

    show_frame(image, f"moodkiosk privacy zones: {zones} zone(s), Esc closes", width, height, args.seconds)
    return 0
