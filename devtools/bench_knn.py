"""Cost of the offers-knn experiment on a whole store (the full Ta-Feng file as one kiosk's loyalty history).

- store side: TIFU / cosine vectors of every member and the transposed pool (once per learn or history sync);
- per scan: one member's k nearest members, their mean weights, rank and share for every product (the lookup the
  extra features and candidates need), timed per member over `--scans` random members;
- learning at kiosk start as `offer_ranking_model.learn_weights` does it (28-day target window, 3,000 sampled
  members): the shipped path (candidates + fit) against the variant (plus neighbours, scores, neighbour candidates,
  3 more features).

    .venv/bin/python -m devtools.bench_knn --data ../shared/data/retail_tafeng_dev.csv.gz
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy import sparse

from devtools.offers_knn import TIFU, extra_features, labels_of, nearest_members, neighbour_scores, new_top, \
    similarity_vectors
from kiosk.evaluation import baselines
from kiosk.evaluation.protocol import Split
from kiosk.evaluation.retail_data import load_retail
from kiosk.services.offer_features import CandidateTable, build_candidates, learn_stats
from kiosk.services.offer_ranker import fit
from kiosk.services.offer_ranking_model import MAX_LEARN_MEMBERS, learning_split, sample_rows
from kiosk.services.offer_training import next_basket_snapshot


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
    none = np.zeros(len(x), dtype=np.int64)
    fit(CandidateTable(none, none, x, none, np.zeros(len(x), dtype=bool), np.zeros(1, dtype=np.int64)), y,
        sample_weight=w)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--sim", default="tifu")
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--cand", type=int, default=20)
    parser.add_argument("--scans", type=int, default=200)
    args = parser.parse_args()
    log = load_retail(args.data).log
    last_day = int(log.day.max())
    print(f"store: {len(log)} lines, {log.n_customers} members, {log.n_products} products; sim {args.sim}, "
          f"k {args.k}, +cand {args.cand}")
    # store side
    t = time.perf_counter()
    tifu = baselines.tifu_vectors(log, TIFU)
    vectors = similarity_vectors(log, args.sim, tifu)
    has_history = np.flatnonzero(np.bincount(log.customer, minlength=log.n_customers) > 0)
    pool_sim = vectors[has_history]
    pool_t = pool_sim.T.tocsr()
    pool_sq = np.asarray(pool_sim.multiply(pool_sim).sum(axis=1)).ravel()
    pool = tifu[has_history].tocsr()
    store_s = time.perf_counter() - t
    print(f"store-side vectors + pool: {store_s:.2f} s")
    # per scan
    rng = np.random.default_rng(1)
    members = rng.choice(has_history, args.scans, replace=False)
    times = []
    for who in members:
        t = time.perf_counter()
        own = vectors[who]
        dot = (own @ pool_t).toarray().ravel()
        dist = (own.multiply(own).sum() + pool_sq - 2 * dot) if args.sim == "tifu" else -dot
        dist[np.searchsorted(has_history, who)] = np.inf
        nearest = np.argpartition(dist, args.k - 1)[:args.k]
        mean = np.asarray(pool[nearest].mean(axis=0)).ravel()
        share = np.asarray((pool[nearest] > 0).mean(axis=0)).ravel()
        scored = np.flatnonzero(mean)
        rank = np.empty(len(scored))
        rank[np.lexsort((scored, -mean[scored]))] = np.arange(len(scored))
        times.append(time.perf_counter() - t)
        assert len(share) == log.n_products
    ms = np.array(times) * 1000
    print(f"per scan, neighbour lookup ({args.scans} members): median {np.median(ms):.1f} ms, "
          f"p95 {np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms")
    # learning at kiosk start
    snapshot = next_basket_snapshot(log, learning_split(last_day))
    rows = sample_rows(len(snapshot.customers))
    sizes = np.diff(snapshot.target_start)
    products = np.concatenate([snapshot.target_product[snapshot.target_start[i]:snapshot.target_start[i + 1]]
                               for i in rows])
    split = Split("learn", snapshot.history, snapshot.customers[rows], snapshot.as_of[rows],
                  np.r_[0, np.cumsum(sizes[rows])], products)
    print(f"learning snapshot: {len(split.customers)} members (max {MAX_LEARN_MEMBERS})")
    for _ in range(2):
        t = time.perf_counter()
        stats = learn_stats(split.history, int(split.as_of.max()))
        base = build_candidates(split.history, split.customers, split.as_of, stats)
        y, w = labels_of(split, base)
        _fit(base.features, y, w)
        base_s = time.perf_counter() - t
        t = time.perf_counter()
        stats = learn_stats(split.history, int(split.as_of.max()))
        base = build_candidates(split.history, split.customers, split.as_of, stats)
        n = split.history.n_products
        nb = nearest_members(split.history, split.customers, args.sim, args.k)
        ns = neighbour_scores(nb, args.k, n)
        table = base
        if args.cand:
            own = np.unique(base.member[base.repeat] * np.int64(n) + base.product[base.repeat])
            table = build_candidates(split.history, split.customers, split.as_of, stats,
                                     extra=new_top(ns, own, args.cand, n))
        y, w = labels_of(split, table)
        _fit(np.hstack([table.features, extra_features(table, ns, n)]), y, w)
        variant_s = time.perf_counter() - t
        print(f"learning (stats + candidates + fit): shipped {base_s:.2f} s, variant {variant_s:.2f} s "
              f"(+{variant_s - base_s:.2f} s; {len(base)} -> {len(table)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
