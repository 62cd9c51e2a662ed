"""The engines scored by `moodkiosk offers-eval`, each returning (n_members, 10) ranked product codes."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from kiosk.errors import KioskError
from kiosk.evaluation.protocol import Split, as_snapshot
from kiosk.services.offer_features import build_candidates, learn_stats
from kiosk.services.offer_ranker import PickRules, RankerWeights, pick, score
from kiosk.services.offer_training import learn_from

K = 10


@dataclass(frozen=True)
class Ranked:
    """An engine's lists for a split and the time it took per member (learning excluded)."""

    method: str
    lists: np.ndarray
    ms_per_member: float


def learn_ranker(splits: list[Split]) -> RankerWeights:
    """Fit the ranker on training splits of the input period (never on the test target)."""
    weights = learn_from([as_snapshot(split) for split in splits])
    if weights is None:
        raise KioskError("no candidate of any training split was bought: nothing to learn the ranker from")
    return weights


def ranker_lists(split: Split, weights: RankerWeights, rules: PickRules) -> Ranked:
    stats = learn_stats(split.history, int(split.as_of.max()) if len(split.as_of) else 0)
    started = time.perf_counter()
    table = build_candidates(split.history, split.customers, split.as_of, stats)
    lists = pick(table, score(table, weights), stats.product_category, K, rules)
    elapsed = time.perf_counter() - started
    lists = fill_popular(lists, stats.popular_order)
    name = f"ranker (cap {rules.category_cap}, discovery {rules.discovery_share:.0%})"
    return Ranked(name, lists, 1000 * elapsed / max(len(split.customers), 1))


def fill_popular(lists: np.ndarray, popular_order: np.ndarray) -> np.ndarray:
    """Fill empty slots (-1) with the most popular products not yet in the list."""
    out = lists.copy()
    for i in np.flatnonzero((out < 0).any(axis=1)):
        have = out[i][out[i] >= 0]
        extra = popular_order[:4 * K][~np.isin(popular_order[:4 * K], have)]
        missing = np.flatnonzero(out[i] < 0)
        out[i, missing] = extra[:len(missing)]
    return out


def rules_engine_lists(split: Split) -> Ranked:
    """The previous engine (kiosk.services.offers.OfferModel, rules) driven through its own API."""
    from kiosk.services.loyalty import Product, Purchase
    from kiosk.services.offer_model import OfferModel

    log = split.history
    products = {
        pid: Product(pid, f"P{pid}", f"P{pid}", str(int(cat)), "all", "consumable", None, None)
        for pid, cat in enumerate(log.product_category.tolist())
    }
    model = OfferModel.from_arrays(products, log.customer, log.day, log.product)
    row_of = {int(c): i for i, c in enumerate(split.customers.tolist())}
    histories: list[list[Purchase]] = [[] for _ in row_of]
    for c, d, p in zip(log.customer.tolist(), log.day.tolist(), log.product.tolist()):
        i = row_of.get(c)
        if i is not None:
            histories[i].append(Purchase(p, d, 1))
    lists = np.full((len(split.customers), K), -1, dtype=np.int64)
    started = time.perf_counter()
    for i, history in enumerate(histories):
        chosen = model.recommend_products(history, int(split.as_of[i]), K)
        lists[i, :len(chosen)] = chosen
    elapsed = time.perf_counter() - started
    return Ranked("previous engine (rules)", lists, 1000 * elapsed / max(len(split.customers), 1))
