"""A kiosk's telemetry in its own process (so tests can kill -9 it): submit windows first..first+count-1."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ for helpers.windows

from helpers.windows import window  # noqa: E402
from kiosk.config import MqttConfig  # noqa: E402
from kiosk.services.spool import Spool  # noqa: E402
from kiosk.services.telemetry import TelemetryPublisher  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spool", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--store", default="s1")
    parser.add_argument("--kiosk", default="k1")
    parser.add_argument("--first", type=int, default=-1,
                        help="index of the first window; -1: continue after the last one in the spool")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--interval", type=float, default=0.0)
    parser.add_argument("--exit-when-sent", action="store_true", help="stop cleanly once the spool is empty")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    spool = Spool(args.spool, 10_000)
    publisher = TelemetryPublisher(MqttConfig(url=args.url, health_interval_s=3600, reconnect_max_s=1),
                                   args.store, args.kiosk, spool)
    # A fresh spool starts at the clock in ms; the seq of window 0 is kept beside the spool so that every
    # restart continues the same numbering: window i always gets seq first_seq + i.
    first_seq_file = Path(args.spool + ".first-seq")
    if not first_seq_file.exists():
        first_seq_file.write_text(str(spool.last_seq() + 1))
    first_seq = int(first_seq_file.read_text())
    first = spool.last_seq() + 1 - first_seq if args.first < 0 else args.first
    publisher.start()
    for i in range(first, first + args.count):
        publisher.submit_window(window(i), {"happy": i % 2, "neutral": 0, "unhappy": 0}, "test-1")
        if args.interval:
            time.sleep(args.interval)
    print("submitted", flush=True)
    while True:
        time.sleep(0.05)
        if args.exit_when_sent and publisher.drained:
            publisher.stop()
            print("sent", flush=True)
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
