"""`moodkiosk validate-config FILE`: check a kiosk config and print OK or every problem, one per line."""
from __future__ import annotations

import argparse

from kiosk.config import ConfigError, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="kiosk config TOML file (see kiosk/config.example.toml)")


def main(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(f"{exc.source}: {len(exc.problems)} problem(s)")
        for problem in exc.problems:
            print(f"  {problem}")
        return 1
    print(
        f"OK: {args.file} (store {config.store_id}, kiosk {config.kiosk_id}, language {config.language}, "
        f"camera {'on: ' + config.camera.source if config.camera.enabled else 'off'}, "
        f"mqtt {'on: ' + config.mqtt.url if config.mqtt.enabled else 'off'})"
    )
    return 0
