"""The one `moodkiosk` command: a thin dispatcher over sub-commands that live with the code they run."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Callable, Sequence

# Sub-command name -> (module, one-line help). Each module provides
# `add_arguments(parser: argparse.ArgumentParser) -> None` and `main(args: argparse.Namespace) -> int`.
# Modules are imported only when their command runs, so `moodkiosk central` never imports Qt and
# `moodkiosk run` never imports the web stack.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("kiosk.commands.run", "start the kiosk full-screen from a config file"),
    "demo": ("kiosk.commands.demo", "start the kiosk windowed on embedded demo defaults (no broker, no camera needed)"),
    "validate-config": ("kiosk.commands.validate_config", "check a kiosk config file and print what is wrong"),
    "analyze": ("vision.cli_analyze", "print per-window (and per-frame) mood results of a source as JSON lines"),
    "bench": ("devtools.bench_vision", "benchmark the vision pipeline (ms per frame, fps, peak RSS)"),
    "bench-offers": ("devtools.bench_offers", "benchmark card scan -> offers latency on a large loyalty store"),
    "bench-kiosk-cpu": ("devtools.bench_kiosk_cpu", "kiosk CPU on the attract screen, adaptive camera rate on vs off"),
    "bench-spool": ("devtools.bench_spool", "a full telemetry spool after an outage: open time and drain rate via Mosquitto"),
    "offers-eval": ("kiosk.commands.offers_eval", "score the offer engine and published baselines on a retail basket file"),
    "offers-tune": ("devtools.offers_tune", "compare ranker variants (logistic, LightGBM; caps, discovery) on the validation split"),
    "import-loyalty": ("kiosk.commands.import_loyalty", "import loyalty CSV files (products, customers, transactions, offers)"),
    "import-offers": ("kiosk.commands.import_offers", "import central's offer snapshot for this store (--rollback: the previous one)"),
    "offers-build": ("central.offers_build.cli", "compute every loyalty member's offers for the chain and write per-store snapshots"),
    "bench-offers-build": ("devtools.bench_offers_build", "benchmark offers-build at chain scale: embedded vs Spark local"),
    "central": ("central.cli", "run the central MQTT collector, storage and dashboard"),
    "bench-central": ("devtools.bench_central", "benchmark collector ingest and end-to-end latency"),
    "bench-history": ("devtools.bench_history", "benchmark central's month view, heat map and page on a year of windows"),
    "central-user": ("central.users_cli", "add/remove dashboard users of `moodkiosk central` and issue API tokens"),
    "broker-setup": ("central.broker_setup", "write a Mosquitto config, logins and ACL (and a test CA) for a fleet"),
    "model-eval": ("models.evaluate", "evaluate an expression .onnx model on a FER2013-format .npz split"),
    "peripheral": ("kiosk.commands.peripheral", "watch the peripheral board (card reader, buttons, light) on its serial port"),
    "loyalty": ("kiosk.commands.loyalty", "a member's data: export (JSON), forget (erase on the kiosk), prune old purchases"),
    "privacy-zones": ("kiosk.commands.privacy_zones", "show the privacy zones over one live camera frame (never saved)"),
    "privacy-sign": ("kiosk.commands.privacy_sign", "write the printable camera notice sign (SVG, DE + EN) from the config"),
    "install-service": ("deploy.install", "install a systemd unit (kiosk in its session, or central) with its user and directories"),
    "cameras": ("kiosk.commands.cameras", "list the cameras (V4L2 devices) with their names and modes"),
    "model": ("kiosk.commands.model", "install, list or roll back the expression model the kiosk uses"),
    "central-backup": ("central.backup", "copy a running central SQLite database to a file (online backup)"),
}


class UserFacingError(Exception):
    """Marker base: an error whose message is for the operator, printed as one line without a traceback."""


def _user_error_types() -> tuple[type[BaseException], ...]:
    """Every package's own user-facing error base, collected lazily so no package must import another."""
    found: list[type[BaseException]] = [UserFacingError]
    for module_name, attr in (
        ("vision.errors", "VisionError"),
        ("kiosk.errors", "KioskError"),
        ("central.errors", "CentralError"),
        ("models.errors", "ModelError"),
    ):
        try:
            found.append(getattr(importlib.import_module(module_name), attr))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _top_help() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: moodkiosk COMMAND [options]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `moodkiosk COMMAND --help` for a command's options."]
    return "\n".join(lines)


def add_rotated_log_file(path: str) -> None:
    """A size-rotated log file beside the journal (for sites that collect files rather than the journal)."""
    from logging.handlers import RotatingFileHandler

    handler = RotatingFileHandler(path, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_top_help())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"moodkiosk: error: unknown command {name!r}\n\n{_top_help()}", file=sys.stderr)
        return 2
    module_name, help_ = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"moodkiosk {name}", description=help_)
    parser.add_argument("--log-level", default="INFO", help="logging level (DEBUG, INFO, WARNING, ERROR)")
    parser.add_argument("--log-file", default=None, metavar="PATH",
                        help="also log to this file, rotated at 10 MB with 5 old files kept (the journal has it anyway)")
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.log_file:
        try:
            add_rotated_log_file(args.log_file)
        except OSError as exc:
            print(f"moodkiosk {name}: error: --log-file {args.log_file}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    run: Callable[[argparse.Namespace], int] = module.main
    try:
        return int(run(args) or 0)
    except _user_error_types() as exc:
        print(f"moodkiosk {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
