"""`moodkiosk offers-build`: every loyalty member's offers for the whole chain, written as per-store snapshots."""
from __future__ import annotations

import argparse
import os
import re
import time
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

from contract.cli_values import identifier, number_between, whole_between
from contract.operator_files import read_small_text
from central.offers_build.errors import BuildInputError
from central.offers_build.export import Catalogue, read_catalogue, read_transactions
from central.offers_build.population import BuildSettings
from central.offers_build.ranking import Ranking
from central.offers_build.snapshots import write_store_snapshots
from kiosk.services.cards import CardHasher
from kiosk.services.offer_ranker import PickRules

KEY_ENV = "MOODKIOSK_CARD_HASH_KEY"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD (got {text!r})") from None


_store_id = identifier("store")
_share = number_between(0.0, 1.0)
SPARK_MASTER = re.compile(r"local(\[(\*|[0-9]{1,4})(,[0-9]{1,4})?\])?|yarn|(spark|mesos|k8s)://\S{1,200}")


def _spark_master(text: str) -> str:
    """A Spark master URL's shape, checked here: a typo otherwise starts a JVM that prints its stack trace."""
    if SPARK_MASTER.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(
            f"not a Spark master URL: local, local[N], local[*], yarn, spark://host:port, k8s://... (got {text!r})")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transactions", type=Path, required=True,
                        help="transactions export, .csv(.gz) or .parquet: member,date,product,store,quantity,amount")
    parser.add_argument("--products", type=Path, required=True,
                        help="products.csv (import-loyalty format: sku,name,category,department,kind,...)")
    parser.add_argument("--offers", type=Path, required=True,
                        help="offer catalogue, offers.csv (import-loyalty format)")
    parser.add_argument("--out", type=Path, required=True, help="directory for the per-store snapshot files")
    parser.add_argument("--engine", choices=("embedded", "spark"), default="embedded",
                        help="embedded: this process (default); spark: Apache Spark (--spark-master)")
    parser.add_argument("--spark-master", default="local[2]", type=_spark_master, help="Spark master URL (default local[2])")
    parser.add_argument("--date", type=_date, default=None, help="build date: offers valid and due on it (default today)")
    parser.add_argument("--all-members", action="store_true",
                        help="every store's snapshot holds every member (chains where anyone may visit any store)")
    parser.add_argument("--store", action="append", metavar="STORE_ID", type=_store_id,
                        help="build only this store's snapshot (repeatable); the model still learns from every line")
    parser.add_argument("--offers-per-member", type=whole_between(1, 10), default=5, help="offers kept per member (default 5)")
    parser.add_argument("--min-offers", type=whole_between(0, 10), default=3,
                        help="filled up with popular offers until this many (the kiosk's offers.min_offers)")
    parser.add_argument("--category-cap", type=whole_between(0, 5), default=2,
                        help="at most this many offers per category, 0 = no cap (the kiosk's [offers] category_cap; "
                        "default 2, as the kiosk's)")
    parser.add_argument("--discovery-share", type=_share, default=0.25,
                        help="least share of the slots for products new to the member (the kiosk's [offers] "
                        "discovery_share; default 0.25, as the kiosk's)")
    parser.add_argument("--card-hash-key-file", type=Path,
                        help=f"the kiosks' card hash key (default: ${KEY_ENV}); never give it to the dashboard")


def card_hash_key(path: Path | None) -> bytes:
    if path is not None:
        try:
            value = read_small_text(path).strip()
        except OSError as exc:
            raise BuildInputError(f"--card-hash-key-file {path}: cannot read: {exc.strerror or exc}") from None
    else:
        value = os.environ.get(KEY_ENV, "").strip()
    if len(value.encode("utf-8")) < 16:
        raise BuildInputError(
            f"no card hash key: set ${KEY_ENV} or --card-hash-key-file to the kiosks' key (at least 16 bytes)")
    return value.encode("utf-8")


def settings_of(args: argparse.Namespace, catalogue: Catalogue, build_date: date) -> BuildSettings:
    """The kiosk-side settings the ranking follows (offers per member, fill-up, category cap, discovery share)."""
    return BuildSettings(build_date, catalogue.products, catalogue.offers, args.offers_per_member, args.min_offers,
                         PickRules(args.category_cap, args.discovery_share))


def run_engine(args: argparse.Namespace, catalogue: Catalogue, build_date: date) -> Ranking:
    """Rank every member with the engine asked for; every input is checked before anything is written."""
    stores = tuple(args.store) if args.store and not args.all_members else None  # all members: rank everyone
    settings = settings_of(args, catalogue, build_date)
    if args.engine == "spark":
        from central.offers_build.spark_engine import rank_spark

        return rank_spark(args.transactions, catalogue, settings, master=args.spark_master, stores=stores)
    from central.offers_build.embedded import rank_embedded

    tx = read_transactions(args.transactions, catalogue)
    return rank_embedded(settings, tx, stores)


def main(args: argparse.Namespace) -> int:
    hasher = CardHasher(card_hash_key(args.card_hash_key_file))
    build_date = args.date or date.today()
    started = time.perf_counter()
    catalogue = read_catalogue(args.products, args.offers, build_date)
    ranking = run_engine(args, catalogue, build_date)
    if args.store and args.all_members:
        unknown = sorted(set(args.store) - set(ranking.store_members))
        if unknown:
            raise BuildInputError(f"--store {unknown[0]}: not a store of the export")
        ranking = replace(ranking, store_members={s: m for s, m in ranking.store_members.items() if s in args.store})
    if not ranking.offers:
        raise BuildInputError(f"{args.transactions}: no purchase lines left to rank (all skipped or empty)")
    built_at = datetime.now(timezone.utc).replace(microsecond=0)
    written = write_store_snapshots(args.out, ranking, catalogue.offers, hasher, built_at, build_date,
                                    args.engine, args.all_members)
    elapsed = time.perf_counter() - started
    for snap in written:
        print(f"{snap.path}: store {snap.store_id}, {snap.members} members, {snap.offers} offers, sha256 {snap.sha256[:12]}")
    print(f"offers-build ({args.engine}): {ranking.lines} lines ({ranking.skipped_returns} returns skipped), "
          f"{len(ranking.offers)} members, {len(written)} stores in {elapsed:.1f} s "
          f"(learn {ranking.learn_s:.1f} s, rank {ranking.rank_s:.1f} s)")
    return 0
