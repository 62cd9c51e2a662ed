"""Experiment (issue 15): member-to-member neighbours (the TIFU-KNN neighbour part) as ranker features and as a
candidate source, scored like `moodkiosk offers-tune` (mean validation recall@10 over the four cut-offs, never
the test month), side by side with the shipped engine in the same run.

For every member scored in a snapshot (training or validation), its k nearest other members are found among
every member with purchases before the snapshot's cut-off (nothing after it is read):
- `tifu`: Euclidean distance of TIFU-KNN history vectors (tuned global-split params), as the TIFU-KNN baseline;
- `cosine`: cosine of baskets-per-product vectors.
Each candidate then gets three extra features: log1p(100 x the neighbours' mean TIFU weight of the product),
log1p(its rank among the member's neighbour-scored products; 500 when unscored), and the share of the k
neighbours who bought it. With `+cand N`, the member's N best neighbour-scored products it never bought
become candidates too (`build_candidates(extra=...)`). `--features weight` keeps the mean weight alone.

    .venv/bin/python -m devtools.offers_knn --data ../shared/data/retail_tafeng_dev.csv.gz
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from kiosk.evaluation import baselines
from kiosk.evaluation.engines import K, fill_popular
from kiosk.evaluation.metrics import score
from kiosk.evaluation.protocol import Protocol, Split, validation_folds
from kiosk.evaluation.retail_data import load_retail
from kiosk.services.offer_features import CandidateTable, build_candidates, learn_stats
from kiosk.services.offer_ranker import PickRules, fit, pick
from kiosk.services.offer_ranker import score as ranker_score
from kiosk.services.purchase_log import PurchaseLog

TIFU = baselines.TUNED["global-split"]
UNSCORED_RANK = 500.0


@dataclass(frozen=True)
class Neighbours:
    """Per scored member (row), its `kmax` nearest other members (pool rows, nearest first) and the pool."""

    nearest: np.ndarray  # (members, kmax) positions in `pool`
    pool: sparse.csr_matrix  # TIFU vectors of every member with history (rows)
    bought: sparse.csr_matrix  # the same, 1 where > 0


def similarity_vectors(log: PurchaseLog, sim: str, tifu: sparse.csr_matrix) -> sparse.csr_matrix:
    if sim == "tifu":
        return tifu
    counts = sparse.csr_matrix((np.ones(len(log)), (log.customer, log.product)),
                               shape=(log.n_customers, log.n_products))  # lines are distinct per basket
    norm = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    return sparse.diags(1.0 / np.maximum(norm, 1e-12)) @ counts


def nearest_members(log: PurchaseLog, customers: np.ndarray, sim: str, kmax: int, chunk: int = 512
                    ) -> Neighbours:
    tifu = baselines.tifu_vectors(log, TIFU)
    vectors = similarity_vectors(log, sim, tifu)
    has_history = np.flatnonzero(np.bincount(log.customer, minlength=log.n_customers) > 0)
    pool_sim = vectors[has_history]
    pool_t = pool_sim.T.tocsr()
    pool_sq = np.asarray(pool_sim.multiply(pool_sim).sum(axis=1)).ravel()
    k = min(kmax, len(has_history) - 1)
    nearest = np.zeros((len(customers), k), dtype=np.int64)
    for start in range(0, len(customers), chunk):
        who = customers[start:start + chunk]
        own = vectors[who]
        dot = (own @ pool_t).toarray()
        if sim == "tifu":
            own_sq = np.asarray(own.multiply(own).sum(axis=1)).ravel()
            dist = own_sq[:, None] + pool_sq[None, :] - 2 * dot
        else:
            dist = -dot
        at = np.searchsorted(has_history, who)
        mine = (at < len(has_history)) & (has_history[np.minimum(at, len(has_history) - 1)] == who)
        dist[np.flatnonzero(mine), at[mine]] = np.inf
        part = np.argpartition(dist, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(dist, part, axis=1), axis=1, kind="stable")
        nearest[start:start + len(who)] = np.take_along_axis(part, order, axis=1)
    pool = tifu[has_history].tocsr()
    bought = pool.copy()
    bought.data = np.ones_like(bought.data)
    return Neighbours(nearest, pool, bought)


@dataclass(frozen=True)
class NeighbourScores:
    """Sorted codes member * n + product with the neighbours' mean weight, rank and share who bought it."""

    codes: np.ndarray
    weight: np.ndarray
    rank: np.ndarray
    share: np.ndarray


def neighbour_scores(nb: Neighbours, k: int, n_products: int) -> NeighbourScores:
    members = len(nb.nearest)
    k = min(k, nb.nearest.shape[1])
    rows = np.repeat(np.arange(members), k)
    mean = sparse.csr_matrix((np.full(rows.size, 1.0 / k), (rows, nb.nearest[:, :k].ravel())),
                             shape=(members, nb.pool.shape[0]))
    weight = (mean @ nb.pool).tocoo()
    share = (mean @ nb.bought).tocoo()
    codes = weight.row.astype(np.int64) * n_products + weight.col
    order = np.argsort(codes)
    codes, w = codes[order], weight.data[order]
    s_codes = share.row.astype(np.int64) * n_products + share.col
    s_order = np.argsort(s_codes)
    assert np.array_equal(s_codes[s_order], codes)
    member = codes // n_products
    by_score = np.lexsort((codes, -w, member))
    starts = np.flatnonzero(np.r_[True, member[by_score][1:] != member[by_score][:-1]]) if len(codes) else codes
    rank = np.empty(len(codes))
    rank[by_score] = np.arange(len(codes)) - np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    return NeighbourScores(codes, w, rank, share.data[s_order])


def lookup(codes: np.ndarray, values: np.ndarray, wanted: np.ndarray, default: float) -> np.ndarray:
    if not len(codes):
        return np.full(len(wanted), default)
    at = np.minimum(np.searchsorted(codes, wanted), len(codes) - 1)
    return np.where(codes[at] == wanted, values[at], default)


def extra_features(table: CandidateTable, ns: NeighbourScores, n_products: int, which: str = "all") -> np.ndarray:
    """`all`: mean weight, rank, share who bought it; `weight`: the mean weight alone."""
    wanted = table.member * np.int64(n_products) + table.product
    weight = np.log1p(100 * lookup(ns.codes, ns.weight, wanted, 0.0))
    if which == "weight":
        return weight[:, None]
    return np.column_stack([weight, np.log1p(lookup(ns.codes, ns.rank, wanted, UNSCORED_RANK)),
                            lookup(ns.codes, ns.share, wanted, 0.0)])


def new_top(ns: NeighbourScores, own: np.ndarray, size: int, n_products: int) -> np.ndarray:
    """Per member, its `size` best neighbour-scored products that are not in `own` (sorted codes)."""
    keep = ~np.isin(ns.codes, own)
    codes, w = ns.codes[keep], ns.weight[keep]
    member = codes // n_products
    order = np.lexsort((codes, -w, member))
    codes, member = codes[order], member[order]
    starts = np.flatnonzero(np.r_[True, member[1:] != member[:-1]]) if len(codes) else codes
    rank = np.arange(len(codes)) - np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    return codes[rank < size]


def labels_of(split: Split, table: CandidateTable) -> tuple[np.ndarray, np.ndarray]:
    """As offer_training.training_rows: in the target basket, row weight 1 / target size."""
    span = np.int64(split.history.n_products)
    sizes = np.diff(split.target_start)
    target = np.sort(np.repeat(np.arange(len(split.customers)), sizes) * span + split.target_product)
    codes = table.member * span + table.product
    at = np.minimum(np.searchsorted(target, codes), max(len(target) - 1, 0))
    return target[at] == codes, 1.0 / np.maximum(sizes[table.member], 1).astype(float)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--sims", default="tifu,cosine")
    parser.add_argument("--ks", default="50,100,300")
    parser.add_argument("--cand", default="0,20", help="neighbour candidates per member to add (0 = features only)")
    parser.add_argument("--shares", default="0,0.25")
    parser.add_argument("--features", choices=("all", "weight"), default="all",
                        help="extra features: mean weight, rank and share who bought it (all), or the weight alone")
    args = parser.parse_args()
    sims = args.sims.split(",")
    ks = [int(v) for v in args.ks.split(",")]
    cands = [int(v) for v in args.cand.split(",")]
    shares = [float(v) for v in args.shares.split(",")]
    data = load_retail(args.data)
    folds = validation_folds(data.log, Protocol.GLOBAL_SPLIT)
    variants = ["base"] + [f"{sim} k{k}" + (f" +cand {c}" if c else "") for sim in sims for k in ks for c in cands]
    results: dict[tuple[str, float], list[tuple[float, float]]] = {}
    ptf: list[float] = []
    timing: dict[str, float] = {}

    def tick(name: str, since: float) -> None:
        timing[name] = timing.get(name, 0.0) + time.perf_counter() - since

    for fold in folds:
        print(f"cut-off {fold.cutoff}: {len(fold.validation.customers)} validation members", flush=True)
        splits = [*fold.training, fold.validation]
        rows: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, CandidateTable]]] = {v: [] for v in variants}
        for split in splits:
            log, n = split.history, split.history.n_products
            t = time.perf_counter()
            stats = learn_stats(log, int(split.as_of.max()))
            base = build_candidates(log, split.customers, split.as_of, stats)
            tick("base candidates", t)
            y, w = labels_of(split, base)
            rows["base"].append((base.features, y, w, base))
            own = np.unique(base.member[base.repeat] * np.int64(n) + base.product[base.repeat])
            for sim in sims:
                t = time.perf_counter()
                nb = nearest_members(log, split.customers, sim, max(ks))
                tick(f"neighbours {sim} (k {max(ks)})", t)
                for k in ks:
                    t = time.perf_counter()
                    ns = neighbour_scores(nb, k, n)
                    tick("neighbour scores", t)
                    for c in cands:
                        name = f"{sim} k{k}" + (f" +cand {c}" if c else "")
                        t = time.perf_counter()
                        table = base if not c else build_candidates(log, split.customers, split.as_of, stats,
                                                                    extra=new_top(ns, own, c, n))
                        tick("extra candidates", t)
                        yv, wv = (y, w) if not c else labels_of(split, table)
                        rows[name].append((np.hstack([table.features, extra_features(table, ns, n, args.features)]), yv, wv, table))
        validation = fold.validation
        vstats = learn_stats(validation.history, int(validation.as_of.max()))
        ptf.append(score(validation, "P-TopFreq", baselines.p_top_freq(validation), 0.0).recall10)
        for name in variants:
            train, (vx, _, _, vtable) = rows[name][:-1], rows[name][-1]
            x = np.concatenate([r[0] for r in train])
            y = np.concatenate([r[1] for r in train])
            w = np.concatenate([r[2] for r in train])
            t = time.perf_counter()
            weights = fit(CandidateTable(*(np.zeros(len(x), dtype=np.int64),) * 2, x, np.zeros(len(x), dtype=np.int64),
                                         np.zeros(len(x), dtype=bool), np.zeros(1, dtype=np.int64)), y, sample_weight=w)
            tick(f"fit {'base' if name == 'base' else 'variant'}", t)
            scores = ranker_score(CandidateTable(vtable.member, vtable.product, vx, vtable.source, vtable.repeat,
                                                 vtable.member_start), weights)
            for share in shares:
                lists = pick(vtable, scores, vstats.product_category, K, PickRules(2, share))
                m = score(validation, name, fill_popular(lists, vstats.popular_order), 0.0)
                results.setdefault((name, share), []).append((m.recall10, m.recall_expl10))
            print(f"  {name}: recall@10 {results[(name, 0.0)][-1][0]:.4f} ({len(y)} training rows)", flush=True)
    cut = [f.cutoff for f in folds]
    print("\n| variant | share | " + " | ".join(cut) + " | mean recall@10 | vs base | mean recall_expl@10 |")
    print("|---" * (len(cut) + 5) + "|")
    print(f"| P-TopFreq | | " + " | ".join(f"{v:.4f}" for v in ptf) + f" | {np.mean(ptf):.4f} | | |")
    for share in shares:
        base_mean = np.mean([r[0] for r in results[("base", share)]])
        for name in variants:
            rec = [r[0] for r in results[(name, share)]]
            expl = [r[1] for r in results[(name, share)]]
            print(f"| {name} | {share:g} | " + " | ".join(f"{v:.4f}" for v in rec) + f" | {np.mean(rec):.4f} | "
                  f"{np.mean(rec) - base_mean:+.4f} | {np.mean(expl):.4f} |")
    print("\ntime (s, all folds):", ", ".join(f"{k} {v:.1f}" for k, v in timing.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
