"""`moodkiosk import-offers SNAPSHOT`: import central's offer snapshot for this store (or roll back to the previous one)."""
from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.config import load_config
from kiosk.errors import KioskError
from kiosk.services.snapshot_store import SnapshotInfo, SnapshotStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("snapshot", nargs="?", type=Path,
                        help="snapshot file written by `moodkiosk offers-build` (<store>-<time>.offers.jsonl.gz)")
    parser.add_argument("--config", help="kiosk config TOML (store_id and data_dir; default: demo defaults)")
    parser.add_argument("--rollback", action="store_true",
                        help="go back to the previous snapshot instead (a second rollback undoes the first)")


def _describe(info: SnapshotInfo) -> str:
    return (f"store {info.store_id}: snapshot built {info.built_at.isoformat()} for {info.built_for} by {info.engine}, "
            f"{info.members} members, sha256 {info.sha256[:12]}")


def main(args: argparse.Namespace) -> int:
    if (args.snapshot is None) == (not args.rollback):
        raise KioskError("give a SNAPSHOT file or --rollback (one of them)")
    config = load_config(args.config)
    if args.snapshot is not None and not args.snapshot.is_file():
        raise KioskError(f"{args.snapshot}: " + ("is a folder, not a snapshot file" if args.snapshot.is_dir() else
                                                  "no such file"))
    with SnapshotStore(config.offer_snapshots_path, config.store_id) as store:
        if args.rollback:
            info = store.rollback()
            print(f"rolled back: {_describe(info)}")
        else:
            info = store.import_file(args.snapshot)
            print(f"imported: {_describe(info)}")
    return 0
