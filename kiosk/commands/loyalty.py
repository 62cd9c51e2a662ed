"""`moodkiosk loyalty export|forget|prune`: a member's data as JSON, erasure everywhere on the kiosk, retention."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kiosk.config import load_config
from kiosk.services.cards import CardHasher
from kiosk.services.loyalty import LoyaltyStore
from kiosk.services.member_data import (
    MemberDataError,
    export_member,
    forget_member,
    parse_card_argument,
    prune_purchases,
)

CANNOT_ERASE = (
    "not erased here: the system journal / syslog (the kiosk logs to stderr; a journal cannot be edited line by "
    "line, its entries with {pseudonym} go when its retention removes them: journalctl --grep '{pseudonym}'), "
    "backups of the loyalty file, the CSV files it was imported from, and the chain's own loyalty system"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="kiosk config TOML (default: the embedded demo defaults)")
    sub = parser.add_subparsers(dest="action", required=True, metavar="{export,forget,prune}")
    export = sub.add_parser("export", help="everything held about a member, as JSON (GDPR Art. 15)")
    export.add_argument("card", metavar="CARD", help="the member's card number")
    export.add_argument("--out", type=Path, help="write the JSON to this file (default: standard output)")
    forget = sub.add_parser("forget", help="erase a member everywhere on the kiosk (GDPR Art. 17)")
    forget.add_argument("card", metavar="CARD", help="the member's card number")
    forget.add_argument("--scrub-log", dest="scrub_logs", metavar="FILE", type=Path, action="append", default=[],
                        help="a plain-text log file in which to replace the member's pseudonym (repeatable)")
    sub.add_parser("prune", help="delete purchases older than [loyalty] purchase_retention_days")


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    path = config.loyalty_db_path
    if not path.is_file():
        raise MemberDataError(f"[loyalty] db_path: no loyalty store at {path} (nothing to do)")
    with LoyaltyStore(path) as store:
        if args.action == "prune":
            days = config.loyalty.purchase_retention_days
            deleted = prune_purchases(store, days)
            print(f"{path}: {deleted} purchases older than {days} days deleted" if days else
                  f"{path}: [loyalty] purchase_retention_days = 0, nothing pruned")
            return 0
        card = parse_card_argument(args.card)
        hasher = CardHasher(config.card_hash_key())
        if args.action == "export":
            text = json.dumps(export_member(store, card, hasher).to_json(), indent=2, ensure_ascii=False)
            if args.out:
                args.out.write_text(text + "\n", encoding="utf-8")
                print(f"wrote {args.out}", file=sys.stderr)
            else:
                print(text)
            return 0
        report = forget_member(store, card, hasher, args.scrub_logs)
    print(f"erased {report.pseudonym}: member, {report.purchases} purchases, offer-model cache "
          f"{'deleted (learnt again without them at the next start)' if report.offer_cache_cleared else 'was empty'}")
    for scrub in report.logs:
        print(f"{scrub.path}: pseudonym replaced in {scrub.lines} lines")
    print(CANNOT_ERASE.format(pseudonym=report.pseudonym))
    return 0

