"""Learning the offer ranker from snapshots of purchase history (shared by the kiosk and offers-eval).

A snapshot is: the purchases before a day (the input), the members scored as of that day, and each one's
next basket after it (the target). Rows are weighted 1 / target size because recall, the measure the
ranker is judged by, is a mean over members of hits / target size.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from kiosk.services.offer_features import CandidateTable, PopulationStats, build_candidates, learn_stats
from kiosk.services.offer_ranker import RankerWeights, fit
from kiosk.services.purchase_log import PurchaseLog

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """Input log, members (codes) with their as-of days, and targets as CSR (target_start, target_product)."""

    history: PurchaseLog
    customers: np.ndarray
    as_of: np.ndarray
    target_start: np.ndarray
    target_product: np.ndarray


@dataclass(frozen=True)
class TrainingRows:
    table: CandidateTable
    labels: np.ndarray
    weights: np.ndarray


def training_rows(snapshot: Snapshot, stats: PopulationStats | None = None) -> TrainingRows:
    """Candidates of a snapshot's members with their labels (in the target basket) and row weights.

    `stats`: the population stats of the input, when they were learned elsewhere (the central build learns
    them from the whole chain and gives a snapshot of a sample of members); default: learned from the history."""
    history = snapshot.history
    if stats is None:
        stats = learn_stats(history, int(snapshot.as_of.max()) if len(snapshot.as_of) else 0)
    table = build_candidates(history, snapshot.customers, snapshot.as_of, stats)
    span = np.int64(history.n_products)
    sizes = np.diff(snapshot.target_start)
    target_codes = np.sort(np.repeat(np.arange(len(snapshot.customers)), sizes) * span + snapshot.target_product)
    codes = table.member * span + table.product
    at = np.minimum(np.searchsorted(target_codes, codes), max(len(target_codes) - 1, 0))
    labels = target_codes[at] == codes if len(target_codes) else np.zeros(len(codes), dtype=bool)
    weights = 1.0 / np.maximum(sizes[table.member], 1).astype(float)
    return TrainingRows(table, labels, weights)


def learn_from(snapshots: list[Snapshot], stats: list[PopulationStats] | None = None) -> RankerWeights | None:
    """Ranker weights fitted on all snapshots together; None when no candidate is ever bought.

    `stats`: per snapshot, its input's population stats when learned elsewhere (see training_rows)."""
    started = time.perf_counter()
    given = stats or [None] * len(snapshots)
    parts = [training_rows(snapshot, s) for snapshot, s in zip(snapshots, given) if len(snapshot.customers)]
    labels = np.concatenate([p.labels for p in parts]) if parts else np.zeros(0, dtype=bool)
    if not labels.any() or labels.all():
        return None
    table = CandidateTable(
        np.concatenate([p.table.member for p in parts]), np.concatenate([p.table.product for p in parts]),
        np.concatenate([p.table.features for p in parts]), np.concatenate([p.table.source for p in parts]),
        np.concatenate([p.table.repeat for p in parts]), np.zeros(1, dtype=np.int64))
    weights = fit(table, labels, sample_weight=np.concatenate([p.weights for p in parts]))
    logger.info("Offer ranker fitted on %d candidates of %d snapshot members in %.1f s", len(table),
                sum(len(s.customers) for s in snapshots), time.perf_counter() - started)
    return weights


def next_basket_snapshot(log: PurchaseLog, split_day: int, end_day: int | None = None,
                         min_baskets: int = 2) -> Snapshot:
    """Members with >= `min_baskets` baskets before `split_day`; target: their first basket in
    [split_day, end_day); input: every basket before `split_day`."""
    end = np.iinfo(np.int64).max if end_day is None else end_day
    b_customer, b_day, _ = log.basket_table()
    before = np.bincount(b_customer[b_day < split_day], minlength=log.n_customers)
    later = np.flatnonzero((b_day >= split_day) & (b_day < end))
    first = later[np.r_[True, b_customer[later][1:] != b_customer[later][:-1]]] if len(later) else later
    first = first[before[b_customer[first]] >= min_baskets]
    rank = np.full(log.n_baskets, -1, dtype=np.int64)
    rank[first] = np.arange(len(first))
    lines = np.flatnonzero(rank[log.basket] >= 0)
    owner = rank[log.basket[lines]]
    order = np.argsort(owner, kind="stable")
    starts = np.r_[0, np.cumsum(np.bincount(owner, minlength=len(first)))]
    return Snapshot(log.select(log.day < split_day), b_customer[first], np.full(len(first), split_day, dtype=np.int64),
                    starts, log.product[lines][order])
