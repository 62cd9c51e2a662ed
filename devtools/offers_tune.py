"""`moodkiosk offers-tune`: ranker choices compared on the validation split only (never on the test target).

The ranker behind `offers-eval` and the kiosk is chosen here: it learns on snapshots whose targets all lie
before the validation split (Ta-Feng: cut-offs 2000-12-01 and 2000-12-15, targets before 2001-01-01;
last-basket: the 2nd and 3rd order before the last), and every variant is scored on the validation target
(Ta-Feng: first basket in 2001-01-01..01-31; last-basket: the order before the last). Variants: the
logistic-regression ranker and, where LightGBM is installed (the `train` extra), gradient-boosted trees
(binary and lambdarank) on the same candidates and features, each under several category caps and discovery
shares. P-TopFreq and popularity on the same split give the yardstick.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from kiosk.commands.offers_eval import _non_negative, _shares
from kiosk.errors import KioskError
from kiosk.evaluation import baselines
from kiosk.evaluation.engines import K, fill_popular
from kiosk.evaluation.metrics import Metrics, score, table
from kiosk.evaluation.protocol import Protocol, Split, as_snapshot, make_split, validation_training_splits
from kiosk.evaluation.retail_data import load_retail
from kiosk.services.offer_features import CandidateTable, build_candidates, learn_stats
from kiosk.services.offer_ranker import PickRules, fit, pick
from kiosk.services.offer_ranker import score as ranker_score
from kiosk.services.offer_training import TrainingRows, training_rows

Scorer = Callable[[np.ndarray], np.ndarray]  # feature matrix -> one score per candidate row


@dataclass(frozen=True)
class Variant:
    """A learned ranker under test: its name and how it scores a feature matrix."""

    name: str
    scores: Scorer


def _caps(value: str) -> tuple[int, ...]:
    return tuple(_non_negative(part) for part in value.split(","))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="retail basket CSV (.csv or .csv.gz), as offers-eval")
    parser.add_argument("--protocol", choices=[p.value for p in Protocol], default=Protocol.GLOBAL_SPLIT.value,
                        help="global-split (default) or last-basket; only its validation split is scored")
    parser.add_argument("--category-cap", type=_caps, default=(2, 3), metavar="CAP[,CAP...]",
                        help="category caps to compare (default 2,3; 0 = no cap)")
    parser.add_argument("--discovery-share", type=_shares, default=(0.0, 0.25, 0.5, 1.0), metavar="SHARE[,SHARE...]",
                        help="discovery shares to compare (default 0,0.25,0.5,1)")
    parser.add_argument("--trees", action=argparse.BooleanOptionalAction, default=True,
                        help="also compare LightGBM binary and lambdarank rankers when lightgbm is installed "
                             "(default on)")
    parser.add_argument("--rounds", type=_non_negative, default=300, help="boosting rounds of the tree rankers (300)")


def _stack(parts: list[TrainingRows]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels, row weights and per-member group sizes of all training snapshots together."""
    return (np.concatenate([p.table.features for p in parts]), np.concatenate([p.labels for p in parts]),
            np.concatenate([p.weights for p in parts]),
            np.concatenate([np.diff(p.table.member_start) for p in parts]))


def _rows_of(features: np.ndarray) -> CandidateTable:
    """A table holding only features (what fitting and scoring read)."""
    rows = len(features)
    none = np.zeros(rows, dtype=np.int64)
    return CandidateTable(none, none, features, none, np.zeros(rows, dtype=bool), np.zeros(1, dtype=np.int64))


def _logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Variant:
    weights = fit(_rows_of(x), y, sample_weight=w)
    return Variant("logistic regression (the engine)", lambda features: ranker_score(_rows_of(features), weights))


def _trees(x: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray, rounds: int) -> list[Variant]:
    import lightgbm

    common = {"verbose": -1, "num_threads": 1, "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 200,
              "bagging_fraction": 0.8, "bagging_freq": 1, "feature_fraction": 0.8, "seed": 1}
    binary = lightgbm.train({**common, "objective": "binary"}, lightgbm.Dataset(x, y.astype(float), weight=w),
                            num_boost_round=rounds)
    rank = lightgbm.train({**common, "objective": "lambdarank", "lambdarank_truncation_level": 20},
                          lightgbm.Dataset(x, y.astype(float), group=groups), num_boost_round=rounds)
    return [Variant(f"LightGBM binary ({rounds} rounds)", lambda f: binary.predict(f, raw_score=True)),
            Variant(f"LightGBM lambdarank ({rounds} rounds)", lambda f: rank.predict(f, raw_score=True))]


def compare(validation: Split, training: list[Split], caps: tuple[int, ...], shares: tuple[float, ...],
            trees: bool, rounds: int = 300, say: Callable[[str], None] = print) -> list[Metrics]:
    """Every variant x cap x share on the validation split, after the baselines on it."""
    started = time.perf_counter()
    x, y, w, groups = _stack([training_rows(as_snapshot(split)) for split in training])
    if not y.any() or y.all():
        raise KioskError("no candidate of the training snapshots was bought (or all were): nothing to compare")
    variants = [_logistic(x, y, w)]
    if trees:
        try:
            variants += _trees(x, y, w, groups, rounds)
        except ImportError:
            say("lightgbm is not installed (pip install '.[train]'): tree rankers skipped")
    say(f"learned {len(variants)} ranker(s) on {len(y)} candidates of {len(training)} snapshots in "
        f"{time.perf_counter() - started:.1f} s")
    results = [score(validation, "popularity", baselines.popularity(validation), 0.0),
               score(validation, "P-TopFreq", baselines.p_top_freq(validation), 0.0)]
    stats = learn_stats(validation.history, int(validation.as_of.max()))
    candidates = build_candidates(validation.history, validation.customers, validation.as_of, stats)
    for variant in variants:
        scores = variant.scores(candidates.features)
        for cap in caps:
            for share in shares:
                lists = pick(candidates, scores, stats.product_category, K, PickRules(cap, share))
                name = f"{variant.name}, cap {cap}, discovery {share:.0%}"
                results.append(score(validation, name, fill_popular(lists, stats.popular_order), 0.0))
    return results


def main(args: argparse.Namespace) -> int:
    protocol = Protocol(args.protocol)
    data = load_retail(args.data)
    validation = make_split(data.log, protocol, validation=True)
    training = [s for s in validation_training_splits(data.log, protocol) if len(s.customers)]
    if not len(validation.customers) or not training:
        raise KioskError(f"{data.path}: no member qualifies for the {protocol.value} validation split "
                         f"(validation {len(validation.customers)} members, {len(training)} training snapshots)")
    print(f"{data.path}: validation split of {protocol.value}, {len(validation.customers)} members; learning on "
          + ", ".join(f"{s.name} ({len(s.customers)} members)" for s in training), flush=True)
    results = compare(validation, training, args.category_cap, args.discovery_share, args.trees, args.rounds)
    print(f"\n## {Path(data.path).name}, {protocol.value}, validation target ({len(validation.customers)} members)\n")
    print(table(results), flush=True)
    return 0
