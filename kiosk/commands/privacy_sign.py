"""`moodkiosk privacy-sign --out sign.svg`: the printable A4 camera sign (DE + EN) from the kiosk's config."""
from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.config import load_config
from kiosk.errors import KioskError
from kiosk.privacy_sign import sign_svg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="kiosk config TOML (default: the embedded demo defaults)")
    parser.add_argument("--out", type=Path, required=True, help="SVG file to write (print it at 100 %% on A4)")


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.out.suffix.lower() != ".svg":
        raise KioskError(f"--out: {args.out} must end in .svg (the sign is an SVG document)")
    if not args.out.parent.is_dir():
        raise KioskError(f"--out: folder {args.out.parent} does not exist")
    try:
        args.out.write_text(sign_svg(config), encoding="utf-8")
    except OSError as exc:
        raise KioskError(f"--out: cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"wrote {args.out} (A4, German and English; controller {config.privacy.controller!r})")
    return 0
