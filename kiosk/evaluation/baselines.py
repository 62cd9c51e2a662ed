"""Published next-basket baselines, our own implementations: popularity, P-TopFreq and TIFU-KNN.

TIFU-KNN: Hu et al., "Modeling Personalized Item Frequency Information for Next-basket Recommendation",
SIGIR 2020; history grouping and decays as in the authors' code (within-basket decay counted over the whole
history, group decay over `group_count` groups, divided by the number of groups actually formed).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from kiosk.evaluation.protocol import Split
from kiosk.services.purchase_log import PurchaseLog


@dataclass(frozen=True)
class TifuParams:
    group_count: int = 7
    within_decay: float = 0.9
    group_decay: float = 0.7
    k: int = 300
    alpha: float = 0.7


AUTHORS_TAFENG = TifuParams(7, 0.9, 0.7, 300, 0.7)
TUNED = {"global-split": TifuParams(7, 0.9, 0.9, 100, 0.3), "last-basket": TifuParams(3, 0.9, 0.6, 100, 0.5)}


def popularity_order(log: PurchaseLog) -> np.ndarray:
    """Product codes by number of input baskets, most first (ties: lower code first)."""
    counts = np.bincount(log.product, minlength=log.n_products)  # lines are distinct per basket
    return np.lexsort((np.arange(log.n_products), -counts))


def top_k_filled(scores: sparse.csr_matrix, popular: np.ndarray, k: int) -> np.ndarray:
    """Per row: the k best-scored products (ties broken by popularity), filled with popular ones."""
    n = scores.shape[0]
    rank_of = np.empty(len(popular), dtype=np.int64)
    rank_of[popular] = np.arange(len(popular))
    out = np.full((n, k), -1, dtype=np.int64)
    fill = popular[: k * 4]
    for i in range(n):
        start, end = scores.indptr[i], scores.indptr[i + 1]
        cols, vals = scores.indices[start:end], scores.data[start:end]
        keep = vals > 0
        cols, vals = cols[keep], vals[keep]
        chosen = cols[np.lexsort((rank_of[cols], -vals))][:k]
        extra = fill[~np.isin(fill, chosen)][: k - len(chosen)]
        row = np.r_[chosen, extra]
        out[i, : len(row)] = row
    return out


def popularity(split: Split, k: int = 10) -> np.ndarray:
    order = popularity_order(split.history)[:k]
    return np.tile(order, (len(split.customers), 1))


def basket_counts(log: PurchaseLog, customers: np.ndarray) -> sparse.csr_matrix:
    """(len(customers), n_products): how many input baskets of each customer hold each product."""
    row_of = np.full(log.n_customers, -1, dtype=np.int64)
    row_of[customers] = np.arange(len(customers))
    rows = row_of[log.customer]
    keep = rows >= 0
    return sparse.csr_matrix((np.ones(keep.sum()), (rows[keep], log.product[keep])),
                             shape=(len(customers), log.n_products))


def p_top_freq(split: Split, k: int = 10) -> np.ndarray:
    log = split.history
    return top_k_filled(basket_counts(log, split.customers), popularity_order(log), k)


def tifu_vectors(log: PurchaseLog, params: TifuParams) -> sparse.csr_matrix:
    """(n_customers, n_products) TIFU history vectors of every customer in the input."""
    b_customer, _, first_line = log.basket_table()
    n_b = np.bincount(b_customer, minlength=log.n_customers)
    first_basket = np.r_[0, np.cumsum(n_b)[:-1]]
    pos = np.arange(len(b_customer)) - first_basket[b_customer]  # 0 = oldest basket
    n = n_b[b_customer]
    m = params.group_count
    within = params.within_decay ** (n - 1 - pos).astype(float)
    # groups as in the authors' code: fewer baskets than groups -> one basket per group; else the first
    # m - extra groups hold `base` baskets and the last `extra` groups hold base + 1
    base = np.maximum(n // m, 1)
    extra = np.where(n >= m, n - base * m, 0)
    small = n < m
    split_at = (m - extra) * base
    group = np.where(small, pos, np.where(pos < split_at, pos // base, (m - extra) + (pos - split_at) // (base + 1)))
    group_len = np.where(small, 1, np.where(pos < split_at, base, base + 1))
    real_groups = np.where(small, n, m)
    weight = within / group_len * params.group_decay ** (m - 1 - group).astype(float) / real_groups
    line_basket = log.basket
    line_weight = weight[line_basket]
    return sparse.csr_matrix((line_weight, (log.customer, log.product)), shape=(log.n_customers, log.n_products))


def tifu_knn(split: Split, params: TifuParams, k: int = 10, chunk: int = 512) -> np.ndarray:
    """TIFU-KNN lists for the evaluated customers; neighbours among every customer with input baskets."""
    log = split.history
    vectors = tifu_vectors(log, params)
    has_history = np.flatnonzero(np.bincount(log.customer, minlength=log.n_customers) > 0)
    pool = vectors[has_history]
    pool_t = pool.T.tocsr()
    pool_sq = np.asarray(pool.multiply(pool).sum(axis=1)).ravel()
    popular = popularity_order(log)
    out = np.full((len(split.customers), k), -1, dtype=np.int64)
    neighbours = min(params.k, len(has_history) - 1)
    for start in range(0, len(split.customers), chunk):
        who = split.customers[start:start + chunk]
        own = vectors[who]
        own_sq = np.asarray(own.multiply(own).sum(axis=1)).ravel()
        dist = own_sq[:, None] + pool_sq[None, :] - 2 * (own @ pool_t).toarray()
        self_col = np.searchsorted(has_history, who)
        dist[np.arange(len(who)), self_col] = np.inf
        if neighbours > 0:
            nearest = np.argpartition(dist, neighbours - 1, axis=1)[:, :neighbours]
            rows = np.repeat(np.arange(len(who)), neighbours)
            mean = sparse.csr_matrix((np.full(rows.size, 1.0 / neighbours), (rows, nearest.ravel())),
                                     shape=(len(who), len(has_history))) @ pool
            scores = params.alpha * own + (1 - params.alpha) * mean
        else:
            scores = own
        out[start:start + len(who)] = top_k_filled(sparse.csr_matrix(scores), popular, k)
    return out
