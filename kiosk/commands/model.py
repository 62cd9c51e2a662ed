"""`moodkiosk model install FILE | rollback | show`: update the kiosk's expression model without reinstalling."""
from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.config import load_config
from kiosk.services import model_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("install", "rollback", "show"), help="what to do")
    parser.add_argument("file", nargs="?", help="install: the new .onnx model file")
    parser.add_argument("--sha256", default=None, help="install: the publisher's SHA-256 of FILE (else FILE.sha256)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--config", default=None, help="kiosk config: the models go to DATA_DIR/models")
    where.add_argument("--dir", default=None, help="the model folder itself")


def model_folder(args: argparse.Namespace) -> Path:
    if args.dir:
        return Path(args.dir)
    return load_config(args.config).data_dir / "models"


def main(args: argparse.Namespace) -> int:
    folder = model_folder(args)
    if args.action == "install":
        if not args.file:
            raise model_store.ModelInstallError("`model install` needs the model FILE")
        done = model_store.install(Path(args.file), folder, args.sha256)
        print(f"installed expression model {done.version} ({done.sha256[:12]}) as {folder / model_store.CURRENT}; "
              f"set [camera] model_file = \"{folder / model_store.CURRENT}\" and restart the kiosk")
    elif args.action == "rollback":
        now = model_store.rollback(folder)
        print(f"{folder / model_store.CURRENT} is {now.name} again; restart the kiosk to use it")
    else:
        current = model_store.current_model(folder)
        previous = folder / model_store.PREVIOUS
        print(f"current: {current.resolve().name if current else 'none (the shipped model is used)'}")
        print(f"previous: {previous.resolve().name if previous.exists() else 'none'}")
    return 0
