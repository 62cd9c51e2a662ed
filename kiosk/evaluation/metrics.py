"""Next-basket metrics of README_retail.md: recall / precision / NDCG / hit-rate at K, repeat vs explore."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiosk.evaluation.protocol import Split


@dataclass(frozen=True)
class Metrics:
    """Means over evaluated customers (recall_rep / recall_expl over customers that have such targets)."""

    method: str
    customers: int
    recall6: float
    precision6: float
    ndcg6: float
    hit6: float
    recall10: float
    recall10_ci: float  # half-width of the 95 % normal-approximation interval
    precision10: float
    ndcg10: float
    hit10: float
    rep_ratio10: float
    recall_rep10: float
    recall_expl10: float
    ms_per_member: float


COLUMNS = ("recall@6", "precision@6", "ndcg@6", "hit@6", "recall@10", "precision@10", "ndcg@10", "hit@10",
           "rep_ratio@10", "recall_rep@10", "recall_expl@10", "ms/member")


def own_products(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique (customer * n_products + product) codes of the input, for repeat tests."""
    log = split.history
    return np.unique(log.customer * log.n_products + log.product), np.int64(log.n_products)


def _contains(sorted_codes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Which `codes` are in the sorted array (np.isin would sort the big array again on every call)."""
    at = np.minimum(np.searchsorted(sorted_codes, codes), len(sorted_codes) - 1)
    return sorted_codes[at] == codes if len(sorted_codes) else np.zeros(len(codes), dtype=bool)


def score(split: Split, method: str, ranked: np.ndarray, ms_per_member: float) -> Metrics:
    """Score `ranked` (n, >= 10) product codes per evaluated customer (-1 = empty slot)."""
    n = len(split.customers)
    if ranked.shape[0] != n or ranked.shape[1] < 10:
        raise ValueError(f"ranked lists: expected shape ({n}, >=10), got {ranked.shape}")
    owned, span = own_products(split)
    recall = {6: np.zeros(n), 10: np.zeros(n)}
    precision = {6: np.zeros(n), 10: np.zeros(n)}
    ndcg = {6: np.zeros(n), 10: np.zeros(n)}
    rep_ratio = np.zeros(n)
    recall_rep = np.full(n, np.nan)
    recall_expl = np.full(n, np.nan)
    discounts = 1.0 / np.log2(np.arange(2, 12))
    for i in range(n):
        target = split.target(i)
        customer = split.customers[i]
        top = ranked[i, :10]
        hit = np.isin(top, target) & (top >= 0)
        for k in (6, 10):
            hits = hit[:k]
            recall[k][i] = hits.sum() / len(target)
            precision[k][i] = hits.sum() / k
            ideal = discounts[:min(len(target), k)].sum()
            ndcg[k][i] = (discounts[:k] * hits).sum() / ideal
        repeat_offer = _contains(owned, customer * span + top[top >= 0])
        rep_ratio[i] = repeat_offer.sum() / 10
        target_repeat = _contains(owned, customer * span + target)
        for mask, out in ((target_repeat, recall_rep), (~target_repeat, recall_expl)):
            if mask.any():
                out[i] = np.isin(target[mask], top[top >= 0]).sum() / mask.sum()
    return Metrics(
        method, n, float(recall[6].mean()), float(precision[6].mean()), float(ndcg[6].mean()),
        float((recall[6] > 0).mean()), float(recall[10].mean()),
        float(1.96 * recall[10].std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
        float(precision[10].mean()), float(ndcg[10].mean()), float((recall[10] > 0).mean()),
        float(rep_ratio.mean()), float(np.nanmean(recall_rep)) if (~np.isnan(recall_rep)).any() else 0.0,
        float(np.nanmean(recall_expl)) if (~np.isnan(recall_expl)).any() else 0.0, ms_per_member,
    )


def row(m: Metrics) -> list[str]:
    return [f"{m.recall6:.4f}", f"{m.precision6:.4f}", f"{m.ndcg6:.4f}", f"{m.hit6:.4f}",
            f"{m.recall10:.4f} ±{m.recall10_ci:.3f}", f"{m.precision10:.4f}", f"{m.ndcg10:.4f}", f"{m.hit10:.4f}",
            f"{m.rep_ratio10:.4f}", f"{m.recall_rep10:.4f}", f"{m.recall_expl10:.4f}", f"{m.ms_per_member:.2f}"]


def table(results: list[Metrics]) -> str:
    """A Markdown table, one row per method."""
    lines = ["| method | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    lines += [f"| {m.method} | " + " | ".join(row(m)) + " |" for m in results]
    return "\n".join(lines)
