"""`moodkiosk offers-eval`: the offer engine beside popularity, P-TopFreq and TIFU-KNN on a retail basket file.

Protocols and metrics: ../shared/data/README_retail.md. The ranker is learned on the protocol's validation
split only; the test target is used for scoring and nothing else.
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from contract.cli_values import comma_list, number_between, whole_between
from contract.spreadsheet import spreadsheet_cell
from kiosk.errors import KioskError
from kiosk.evaluation import baselines
from kiosk.evaluation.engines import Ranked, learn_ranker, ranker_lists, rules_engine_lists
from kiosk.evaluation.metrics import Metrics, score, table
from kiosk.evaluation.protocol import Protocol, Split, make_split, training_splits
from kiosk.evaluation.retail_data import RetailData, load_retail
from kiosk.services.offer_ranker import PickRules


_shares = comma_list(number_between(0.0, 1.0))
_non_negative = whole_between(0, 10**9)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True,
                        help="retail basket CSV (.csv or .csv.gz): customer_id, basket_id, date, product_id "
                             "[, category, order_number]")
    parser.add_argument("--protocol", choices=[p.value for p in Protocol], default=Protocol.GLOBAL_SPLIT.value,
                        help="global-split (Ta-Feng: split date 2001-02-01) or last-basket (per member); "
                             "default global-split")
    parser.add_argument("--dump", type=Path, help="write every scored member's ranked offers of the engine as "
                                                  "CSV (member_id, rank, product_id)")
    parser.add_argument("--members", type=_non_negative, default=0,
                        help="score a random sample of this many evaluated members (0 = all, the default)")
    parser.add_argument("--previous", type=_non_negative, default=0, metavar="N",
                        help="also run the previous rules engine on a sample of N of the members (it takes "
                             "~0.4 s per member on Ta-Feng), every method scored on that sample too")
    parser.add_argument("--category-cap", type=_non_negative, default=2,
                        help="at most this many offers per category (0 = no cap; default 2, as the kiosk)")
    parser.add_argument("--discovery-share", type=_shares, default=(0.0,), metavar="SHARE[,SHARE...]",
                        help="least share of the 10 slots for products new to the member; several, comma-"
                             "separated, give one ranker row each (default 0; the --dump lists use the first)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the member samples (default 1)")


def _subset(split: Split, rows: np.ndarray) -> Split:
    starts = split.target_start
    products = np.concatenate([split.target_product[starts[i]:starts[i + 1]] for i in rows]) if len(rows) else \
        np.zeros(0, dtype=np.int64)
    new_starts = np.r_[0, np.cumsum(np.diff(starts)[rows])]
    return Split(split.name, split.history, split.customers[rows], split.as_of[rows], new_starts, products)


def _all_methods(split: Split, protocol: Protocol, engines: list[Ranked]) -> list[Metrics]:
    results = []
    for name, run in (
        ("popularity", lambda: baselines.popularity(split)),
        ("P-TopFreq", lambda: baselines.p_top_freq(split)),
        ("TIFU-KNN, authors' Ta-Feng params", lambda: baselines.tifu_knn(split, baselines.AUTHORS_TAFENG)),
        ("TIFU-KNN, README's tuned params", lambda: baselines.tifu_knn(split, baselines.TUNED[protocol.value])),
    ):
        started = time.perf_counter()
        lists = run()
        ms = 1000 * (time.perf_counter() - started) / max(len(split.customers), 1)
        results.append(score(split, name, lists, ms))
    results += [score(split, engine.method, engine.lists, engine.ms_per_member) for engine in engines]
    return results


def _dump(path: Path, data: RetailData, split: Split, lists: np.ndarray) -> None:
    try:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["member_id", "rank", "product_id"])
            for customer, row in zip(split.customers.tolist(), lists.tolist()):
                for rank, pid in enumerate(row, start=1):
                    if pid >= 0:
                        writer.writerow([spreadsheet_cell(data.customer_ids[customer]), rank,
                                         spreadsheet_cell(data.product_ids[pid])])  # ids from the retail file
    except OSError as exc:
        raise KioskError(f"--dump {path}: cannot write: {exc.strerror or exc}") from None


def main(args: argparse.Namespace) -> int:
    protocol = Protocol(args.protocol)
    started = time.perf_counter()
    data = load_retail(args.data)
    log = data.log
    print(f"{data.path}: {data.rows} rows, {log.n_customers} members, {log.n_baskets} baskets, "
          f"{log.n_products} products (read in {time.perf_counter() - started:.1f} s)", flush=True)
    if data.rows_without_category:
        print(f"  {data.rows_without_category} rows without a category: their products count as uncategorised")
    test = make_split(log, protocol, validation=False)
    training = [split for split in training_splits(log, protocol) if len(split.customers)]
    if not len(test.customers) or not training:
        raise KioskError(f"{data.path}: no member qualifies for the {protocol.value} protocol "
                         f"(test {len(test.customers)} members, no training split)")
    skipped = log.n_customers - len(test.customers)
    print(f"protocol {protocol.value}: {len(test.customers)} evaluated members ({skipped} members without "
          f"enough history or no target basket are not scored); the ranker learns from "
          + ", ".join(f"{split.name} ({len(split.customers)} members)" for split in training), flush=True)
    rng = np.random.default_rng(args.seed)
    if args.members and args.members < len(test.customers):
        test = _subset(test, np.sort(rng.choice(len(test.customers), args.members, replace=False)))
        print(f"  scoring a random sample of {len(test.customers)} members (--members)")
    started = time.perf_counter()
    weights = learn_ranker(training)
    print(f"ranker learned on the input period's training splits in {time.perf_counter() - started:.1f} s", flush=True)
    engines = [ranker_lists(test, weights, PickRules(category_cap=args.category_cap, discovery_share=share))
               for share in args.discovery_share]
    engine = engines[0]
    print(f"\n## {Path(data.path).name}, {protocol.value}, {len(test.customers)} members (test target)\n")
    print(table(_all_methods(test, protocol, engines)), flush=True)
    if args.previous:
        rows = np.sort(rng.choice(len(test.customers), min(args.previous, len(test.customers)), replace=False))
        sample = _subset(test, rows)
        previous = rules_engine_lists(sample)
        results = _all_methods(sample, protocol, [Ranked(e.method, e.lists[rows], e.ms_per_member) for e in engines])
        results.append(score(sample, previous.method, previous.lists, previous.ms_per_member))
        print(f"\n## the same, on a sample of {len(sample.customers)} members with the previous engine\n")
        print(table(results), flush=True)
    if args.dump:
        _dump(args.dump, data, test, engine.lists)
        print(f"\nranked offers of {len(test.customers)} members written to {args.dump}")
    return 0
