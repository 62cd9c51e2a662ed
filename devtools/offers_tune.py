"""`moodkiosk offers-tune`: ranker choices compared on the validation split only (never on the test target).

The ranker behind `offers-eval` and the kiosk is chosen here: it learns on snapshots whose targets all lie
before the validation split (Ta-Feng: cut-offs 2000-12-01 and 2000-12-15, targets before 2001-01-01;
last-basket: the 2nd and 3rd order before the last), and every variant is scored on the validation target
(Ta-Feng: first basket in 2001-01-01..01-31; last-basket: the order before the last). On global-split the
same is done at several cut-offs (2000-12-01, 12-15, 2001-01-01, 01-15 by default; `--cutoffs`), each learning
only from snapshots whose targets lie before it, and variants are compared by the MEAN over the cut-offs:
January holds Chinese New Year, so 2001-01-01 alone is a poor proxy for the February test month. Variants: the
logistic-regression ranker and, where LightGBM is installed (the `train` extra), gradient-boosted trees
(binary and lambdarank) on the same candidates and features, each under several category caps and discovery
shares. P-TopFreq and popularity on the same split give the yardstick.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, fields, replace
from datetime import date
from pathlib import Path
from typing import Callable

import numpy as np

from contract.cli_values import comma_list
from kiosk.commands.offers_eval import _non_negative, _shares
from kiosk.errors import KioskError
from kiosk.evaluation import baselines
from kiosk.evaluation.engines import K, fill_popular
from kiosk.evaluation.metrics import Metrics, score, table
from kiosk.evaluation.protocol import VALIDATION_CUTOFFS, Protocol, Split, ValidationFold, as_snapshot, validation_folds
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


_caps = comma_list(_non_negative)


def _cutoffs(value: str) -> tuple[date, ...]:
    days = []
    for part in value.split(","):
        try:
            days.append(date.fromisoformat(part.strip()))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not a date YYYY-MM-DD") from None
    return tuple(days)


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
    parser.add_argument("--cutoffs", type=_cutoffs, default=VALIDATION_CUTOFFS, metavar="DATE[,DATE...]",
                        help="global-split validation cut-offs, each before the test split (last-basket has one "
                             "fold); variants are compared by the mean over them (default "
                             + ",".join(d.isoformat() for d in VALIDATION_CUTOFFS) + ")")
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


def mean_metrics(per_fold: list[Metrics], method: str) -> Metrics:
    """Each metric's mean over the folds (ms per member too; `customers` is their sum)."""
    values = {f.name: float(np.mean([getattr(m, f.name) for m in per_fold]))
              for f in fields(Metrics) if f.name not in ("method", "customers")}
    return replace(per_fold[0], method=method, customers=sum(m.customers for m in per_fold), **values)


def recall_table(cutoffs: list[str], per_fold: list[list[Metrics]]) -> str:
    """recall@10 and recall_expl@10 of every method at every cut-off, then their means."""
    head = ["method", *(f"recall@10 {c}" for c in cutoffs), "mean recall@10",
            *(f"recall_expl@10 {c}" for c in cutoffs), "mean recall_expl@10"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for row in zip(*per_fold):
        recall = [m.recall10 for m in row]
        explore = [m.recall_expl10 for m in row]
        lines.append(f"| {row[0].method} | " + " | ".join(f"{v:.4f}" for v in recall) + f" | {np.mean(recall):.4f} | "
                     + " | ".join(f"{v:.4f}" for v in explore) + f" | {np.mean(explore):.4f} |")
    return "\n".join(lines)


def compare_folds(folds: list[ValidationFold], caps: tuple[int, ...], shares: tuple[float, ...], trees: bool,
                  rounds: int = 300, say: Callable[[str], None] = print) -> list[Metrics]:
    """`compare` at every fold, then each row's mean over the folds (rows line up: same variants, same order)."""
    per_fold = []
    for fold in folds:
        say(f"cut-off {fold.cutoff}: {len(fold.validation.customers)} validation members; learning on "
            + ", ".join(f"{s.name} ({len(s.customers)} members)" for s in fold.training))
        per_fold.append(compare(fold.validation, list(fold.training), caps, shares, trees, rounds, say))
    if len(folds) > 1:
        say("\n" + recall_table([f.cutoff for f in folds], per_fold))
    return [mean_metrics(list(row), row[0].method) for row in zip(*per_fold)]


def main(args: argparse.Namespace) -> int:
    protocol = Protocol(args.protocol)
    data = load_retail(args.data)
    try:
        folds = validation_folds(data.log, protocol, args.cutoffs)
    except ValueError as exc:
        raise KioskError(f"--cutoffs: {exc}") from None
    for fold in folds:
        if not len(fold.validation.customers) or not fold.training:
            raise KioskError(f"{data.path}: no member qualifies for the {protocol.value} validation split at "
                             f"{fold.cutoff} (validation {len(fold.validation.customers)} members, "
                             f"{len(fold.training)} training snapshots)")
    print(f"{data.path}: validation split of {protocol.value} at {len(folds)} cut-off(s): "
          + ", ".join(f.cutoff for f in folds), flush=True)
    results = compare_folds(folds, args.category_cap, args.discovery_share, args.trees, args.rounds)
    members = sum(len(f.validation.customers) for f in folds)
    what = "validation target" if len(folds) == 1 else f"mean over {len(folds)} validation cut-offs"
    print(f"\n## {Path(data.path).name}, {protocol.value}, {what} ({members} member targets)\n")
    print(table(results), flush=True)
    return 0
