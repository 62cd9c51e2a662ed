"""The offer model: what the rules engine learns from all purchases, and one shopper's personal scores.

Rules, strongest first (each score carries its rule and a reason staff can read in the log):
- repurchase: a consumable the shopper bought on at least two days is due again (days since the last
  purchase / the shopper's own median interval, or the product's default interval, is 0.8-3.0);
- together: products often in the same basket (cosine of basket co-occurrence, learned from all baskets)
  as what the shopper bought in their last baskets;
- category: categories that make up a good share of the shopper's purchases;
- popular: how many shoppers buy the product (the fallback that fills up to `min_offers`).
Never offered: a durable (or anything in its category) within its durable period after buying one, a
consumable bought so recently that it is not half-way to due.
"""
from __future__ import annotations

import json
import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from kiosk.services.loyalty import LoyaltyError, LoyaltyStore, Product, Purchase
from kiosk.services.records import OfferRule

logger = logging.getLogger(__name__)

WEIGHT_REPURCHASE = 3.0
WEIGHT_TOGETHER = 2.0
WEIGHT_CATEGORY = 1.0
WEIGHT_POPULAR = 0.3
DUE_FROM, DUE_UNTIL, NOT_DUE_BELOW = 0.8, 3.0, 0.5
RECENT_BASKETS = 3  # anchors for "bought together"
NEIGHBOURS = 10
MIN_PAIR_BASKETS = 3  # fewer shared baskets is noise
MIN_LIFT = 2.0  # together at least 2x as often as chance would put them in one basket
MIN_CATEGORY_SHARE = 0.05
DENSE_PAIR_TABLE_MAX = 20_000_000  # product-id span squared up to which pairs are counted in a dense table
MODEL_META_KEY = "offer_model_v1"


@dataclass(frozen=True, slots=True)
class Scored:
    """One product's best rule for one shopper."""

    score: float
    rule: OfferRule
    reason: str


@dataclass(frozen=True, slots=True)
class ShopperProfile:
    """What one shopper's history says now: personal scores, what never to offer, their category shares.

    `scores` holds only products with a personal rule (the caller adds popularity, which also ranks
    products never bought); `blocked_products` are not due or still covered by a durable's period, and
    `blocked_categories` the categories of such durables; `category_shares` is the share of the shopper's
    purchase lines per category (0..1)."""

    scores: Mapping[int, Scored]
    blocked_products: frozenset[int]
    blocked_categories: frozenset[str]
    category_shares: Mapping[str, float]

    def allows(self, product: Product | None, product_id: int) -> bool:
        """Whether the product may be offered at all (neither it nor its category is blocked)."""
        return product_id not in self.blocked_products and (
            product is None or product.category not in self.blocked_categories
        )


class OfferModel:
    """What the engine learns from all purchases: popularity, default intervals, item-item neighbours."""

    def __init__(
        self,
        products: dict[int, Product],
        buyers: dict[int, int],
        default_interval: dict[int, float],
        neighbours: dict[int, tuple[tuple[int, float], ...]],
    ) -> None:
        self.products = products
        self.buyers = buyers
        self.max_buyers = max(buyers.values(), default=1) or 1
        self.default_interval = default_interval
        self.neighbours = neighbours
        self.category_best: dict[str, int] = {}  # category -> its most bought product
        for pid, prod in products.items():
            best = self.category_best.get(prod.category)
            if best is None or buyers.get(pid, 0) > buyers.get(best, 0):
                self.category_best[prod.category] = pid

    @classmethod
    def from_arrays(
        cls, products: dict[int, Product], customer: np.ndarray, day: np.ndarray, product: np.ndarray
    ) -> "OfferModel":
        """Learn from purchase arrays (one entry per purchase line, any order)."""
        started = time.perf_counter()
        buyers = _distinct_buyers(customer, product)
        learned = _median_intervals(customer, day, product)
        default_interval = {}
        for pid, prod in products.items():
            if prod.kind != "consumable":
                continue
            value = prod.repurchase_days or learned.get(pid)
            if value:
                default_interval[pid] = float(value)
        neighbours = _neighbours(customer, day, product)
        logger.info(
            "Offer model learned from %d purchases in %.2f s (%d products with neighbours)",
            len(product), time.perf_counter() - started, len(neighbours),
        )
        return cls(products, buyers, default_interval, neighbours)

    @classmethod
    def from_store(cls, store: LoyaltyStore) -> "OfferModel":
        customer, day, product = store.purchase_arrays()
        return cls.from_arrays(store.products(), customer, day, product)

    @classmethod
    def load_or_learn(cls, store: LoyaltyStore) -> "OfferModel":
        """The model cached in the store when purchases and products are unchanged, else learn and cache it."""
        stamp = store.data_stamp()
        cached = store.get_meta(MODEL_META_KEY)
        if cached:
            try:
                data = json.loads(cached)
                if data.get("stamp") == stamp:
                    logger.info("Offer model loaded from the store's cache")
                    return cls._from_json(store.products(), data)
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("Cached offer model unreadable, learning again: %s", exc)
        model = cls.from_store(store)
        try:
            store.set_meta(MODEL_META_KEY, json.dumps(model._to_json(stamp)))
        except LoyaltyError as exc:  # a cache only: a store opened read-only still serves offers
            logger.warning("Offer model not cached: %s", exc)
        return model

    def _to_json(self, stamp: str) -> dict[str, object]:
        return {
            "stamp": stamp,
            "buyers": list(self.buyers.items()),
            "default_interval": list(self.default_interval.items()),
            "neighbours": [[pid, [list(pair) for pair in pairs]] for pid, pairs in self.neighbours.items()],
        }

    @classmethod
    def _from_json(cls, products: dict[int, Product], data: dict[str, Any]) -> "OfferModel":
        return cls(
            products,
            {int(k): int(v) for k, v in data["buyers"]},
            {int(k): float(v) for k, v in data["default_interval"]},
            {int(pid): tuple((int(o), float(s)) for o, s in pairs) for pid, pairs in data["neighbours"]},
        )

    def popular_products(self) -> list[int]:
        return sorted(self.buyers, key=lambda pid: (-self.buyers[pid], pid))

    def score_products(
        self, history: Sequence[Purchase], today: int, candidates: Iterable[int] | None = None
    ) -> ShopperProfile:
        """The shopper's profile today (a date ordinal); `candidates` limits the liked-category rule to these
        products (those with an offer) so a scan stays fast with a large assortment."""
        days_by_product: dict[int, list[int]] = defaultdict(list)
        for purchase in history:
            days_by_product[purchase.product_id].append(purchase.day)
        blocked: set[int] = set()
        blocked_categories: set[str] = set()
        scores: dict[int, Scored] = {}

        def offer(pid: int, candidate: Scored) -> None:
            if pid not in scores or candidate.score > scores[pid].score:
                scores[pid] = candidate

        for pid, days in days_by_product.items():
            prod = self.products.get(pid)
            if prod is None:
                continue
            distinct = sorted(set(days))
            since = today - distinct[-1]
            if prod.kind == "durable":
                if prod.durable_days and since < prod.durable_days:
                    blocked.add(pid)
                    blocked_categories.add(prod.category)
                continue
            gaps = np.diff(distinct)
            own = float(np.median(gaps)) if len(gaps) >= 2 else None
            interval = own or self.default_interval.get(pid)
            if interval is None or interval <= 0:
                continue
            ratio = since / interval
            if ratio < NOT_DUE_BELOW:
                blocked.add(pid)
            elif len(distinct) >= 2 and DUE_FROM <= ratio <= DUE_UNTIL:
                urgency = 1.0 - min(abs(ratio - 1.0), 1.0) * 0.5  # most urgent right at the due day
                habit = min(math.log2(len(distinct)) / 4.0, 0.5)
                whose = "own" if own else "usual"
                offer(pid, Scored(
                    WEIGHT_REPURCHASE * (urgency + habit), OfferRule.REPURCHASE,
                    f"repurchase: buys {prod.name} every ~{interval:.0f} days ({whose} interval), "
                    f"last {since} days ago",
                ))

        recent_days = sorted({p.day for p in history})[-RECENT_BASKETS:]
        anchors = {p.product_id for p in history if p.day in recent_days}
        for anchor in anchors:
            anchor_name = self.products[anchor].name if anchor in self.products else str(anchor)
            for other, similarity in self.neighbours.get(anchor, ()):
                if other in anchors:
                    continue
                offer(other, Scored(
                    WEIGHT_TOGETHER * similarity, OfferRule.TOGETHER,
                    f"together: often in the same basket as {anchor_name} (similarity {similarity:.2f})",
                ))

        shares: dict[str, float] = defaultdict(float)
        for purchase in history:
            prod = self.products.get(purchase.product_id)
            if prod is not None:
                shares[prod.category] += 1 / len(history)
        if shares:
            for pid in self.products if candidates is None else candidates:
                prod = self.products.get(pid)
                if prod is None:
                    continue
                share = shares.get(prod.category, 0.0)
                if share >= MIN_CATEGORY_SHARE and pid not in days_by_product:
                    offer(pid, Scored(
                        WEIGHT_CATEGORY * share, OfferRule.CATEGORY,
                        f"category: {share:.0%} of their purchases are {prod.category}",
                    ))
        for pid in blocked:
            scores.pop(pid, None)
        return ShopperProfile(scores, frozenset(blocked), frozenset(blocked_categories), dict(shares))

    def popularity(self, pid: int) -> Scored:
        share = self.buyers.get(pid, 0) / self.max_buyers
        return Scored(WEIGHT_POPULAR * share, OfferRule.POPULAR, f"popular: bought by {self.buyers.get(pid, 0)} shoppers")

    def recommend_products(self, history: Sequence[Purchase], today: int, k: int) -> list[int]:
        """Top-k products for a shopper (offline evaluation: every product counts as if it had an offer)."""
        profile = self.score_products(history, today)
        scores = profile.scores

        def allowed(pid: int) -> bool:
            return profile.allows(self.products.get(pid), pid)

        ranked = sorted(scores, key=lambda pid: -(scores[pid].score + self.popularity(pid).score))
        picked = [pid for pid in ranked if allowed(pid)][:k]
        for pid in self.popular_products():
            if len(picked) >= k:
                break
            if pid not in picked and allowed(pid):
                picked.append(pid)
        return picked


# ----- learning from all purchases (vectorised; a million purchases take about a second) -------------------
def _runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, start indices, counts) of the runs of equal values in a sorted array.

    Faster than np.unique here (numpy 2's hash-based unique is slow on millions of int64).
    """
    if len(sorted_values) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    counts = np.diff(np.r_[starts, len(sorted_values)])
    return sorted_values[starts], starts, counts


def _distinct_buyers(customer: np.ndarray, product: np.ndarray) -> dict[int, int]:
    if len(product) == 0:
        return {}
    span = int(customer.max()) + 1
    pairs, _, _ = _runs(np.sort(product * span + customer))
    ids, _, counts = _runs(pairs // span)
    return {int(i): int(c) for i, c in zip(ids, counts)}


def _median_intervals(customer: np.ndarray, day: np.ndarray, product: np.ndarray) -> dict[int, float]:
    """Per product: the median of every shopper's gaps (days) between buying it on different days."""
    if len(product) < 2:
        return {}
    order = np.lexsort((day, customer, product))
    c, d, p = customer[order], day[order], product[order]
    same = (p[1:] == p[:-1]) & (c[1:] == c[:-1])
    gaps = (d[1:] - d[:-1])[same]
    gap_products = p[1:][same]
    keep = gaps > 0
    gaps, gap_products = gaps[keep], gap_products[keep]
    if len(gaps) == 0:
        return {}
    order = np.lexsort((gaps, gap_products))
    gaps, gap_products = gaps[order], gap_products[order]
    ids, starts, counts = _runs(gap_products)
    result = {}
    for pid, start, count in zip(ids, starts, counts):
        if count >= 3:  # fewer gaps say little about a product's usual interval
            result[int(pid)] = float(np.median(gaps[start:start + count]))
    return result


def _neighbours(customer: np.ndarray, day: np.ndarray, product: np.ndarray) -> dict[int, tuple[tuple[int, float], ...]]:
    """Item-item cosine similarity over baskets (one customer on one day); top NEIGHBOURS per product."""
    if len(product) < 2:
        return {}
    span = int(product.max()) + 1
    order = np.lexsort((product, day, customer))
    c, d, p = customer[order], day[order], product[order]
    new_basket = np.ones(len(p), dtype=bool)
    new_basket[1:] = (c[1:] != c[:-1]) | (d[1:] != d[:-1])
    basket = np.cumsum(new_basket) - 1
    codes, _, _ = _runs(basket * span + p)  # sorted already: one entry per product per basket
    basket, p = codes // span, codes % span
    baskets_with = np.bincount(p, minlength=span)
    dense = span * span <= DENSE_PAIR_TABLE_MAX  # few products: count pairs in a dense table, else sort pair codes
    counts = np.zeros(span * span, dtype=np.int64) if dense else None
    pair_codes = []
    k = 1
    while k < len(p):
        same = basket[k:] == basket[:-k]
        if not same.any():
            break
        codes = p[:-k][same] * span + p[k:][same]  # within a basket p is sorted, so a < b
        if counts is not None:
            counts += np.bincount(codes, minlength=span * span)
        else:
            pair_codes.append(codes)
        k += 1
    if counts is not None:
        codes = np.flatnonzero(counts)
        together = counts[codes]
    elif pair_codes:
        codes, _, together = _runs(np.sort(np.concatenate(pair_codes)))
    else:
        return {}
    a, b = codes // span, codes % span
    a, b, together = np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([together, together])
    lift = together * float(basket[-1] + 1) / (baskets_with[a] * baskets_with[b])
    keep = (together >= MIN_PAIR_BASKETS) & (lift >= MIN_LIFT)
    a, b, together = a[keep], b[keep], together[keep]
    similarity = together / np.sqrt(baskets_with[a] * baskets_with[b])
    order = np.lexsort((-similarity, a))
    a, b, similarity = a[order], b[order], similarity[order]
    result: dict[int, tuple[tuple[int, float], ...]] = {}
    ids, starts, counts = _runs(a)
    for pid, start, count in zip(ids, starts, counts):
        end = start + min(count, NEIGHBOURS)
        result[int(pid)] = tuple((int(o), round(float(s), 4)) for o, s in zip(b[start:end], similarity[start:end]))
    return result

