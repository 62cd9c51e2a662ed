"""The ranker model of a store: population stats and ranker weights learned from its purchases, cached in it.

Weights are learned the way the offline evaluation validates them: the store's last LEARN_WINDOW_DAYS are
the target, everything before them the input. A store with too few members for that (a new store, the demo)
uses the weights shipped in `ranker_default.json`, learned on the Ta-Feng developer file's validation split
(`python -m kiosk.evaluation.export_default_ranker`).
"""
from __future__ import annotations

import base64
import io
import json
import logging
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from kiosk.services.loyalty import LoyaltyError, LoyaltyStore, Product
from kiosk.services.offer_features import PopulationStats, learn_stats
from kiosk.services.offer_ranker import RankerWeights
from kiosk.services.offer_training import Snapshot, learn_from, next_basket_snapshot
from kiosk.services.purchase_log import NO_CATEGORY, PurchaseLog

logger = logging.getLogger(__name__)

MODEL_META_KEY = "offer_ranker_v1"
LEARN_WINDOW_DAYS = 28
MIN_LEARN_MEMBERS = 300  # fewer members with a target basket: use the shipped weights
MAX_LEARN_MEMBERS = 3000  # a random sample of this many keeps learning at kiosk start well under a minute
DEFAULT_WEIGHTS = Path(__file__).with_name("ranker_default.json")


@dataclass(frozen=True)
class RankingModel:
    """What a kiosk needs to rank offers: product codes are the store's product ids."""

    stats: PopulationStats
    weights: RankerWeights
    category_names: tuple[str, ...]  # category code -> the store's category
    learned_weights: bool  # False: the shipped default weights are used

    @property
    def n_products(self) -> int:
        return self.stats.n_products


def default_weights() -> RankerWeights:
    return RankerWeights.from_json(json.loads(DEFAULT_WEIGHTS.read_text(encoding="utf-8")))


def category_codes(products: dict[int, Product], n_products: int) -> tuple[np.ndarray, tuple[str, ...]]:
    names = sorted({p.category for p in products.values() if p.category})
    code_of = {name: i for i, name in enumerate(names)}
    codes = np.full(n_products, NO_CATEGORY, dtype=np.int64)
    for pid, product in products.items():
        if product.category:
            codes[pid] = code_of[product.category]
    return codes, tuple(names)


def store_log(store: LoyaltyStore, products: dict[int, Product]) -> tuple[PurchaseLog, tuple[str, ...]]:
    """Every purchase of the store as a PurchaseLog (customer and product codes = the store's ids)."""
    customer, day, product = store.purchase_arrays()
    n_products = max(max(products, default=0), int(product.max()) if len(product) else 0) + 1
    categories, names = category_codes(products, n_products)
    n_customers = int(customer.max()) + 1 if len(customer) else 1
    return PurchaseLog.build(customer, day, product, categories, n_customers), names


def sample_rows(qualifying: int) -> np.ndarray | None:
    """Which of the `qualifying` learning members (positions, ascending) the fit uses: all of them, or a
    fixed random MAX_LEARN_MEMBERS; None when fewer than MIN_LEARN_MEMBERS qualify (the shipped weights)."""
    if qualifying < MIN_LEARN_MEMBERS:
        return None
    if qualifying <= MAX_LEARN_MEMBERS:
        return np.arange(qualifying)
    return np.sort(np.random.default_rng(0).choice(qualifying, MAX_LEARN_MEMBERS, replace=False))


def learning_split(last_day: int) -> int:
    """First day of the target window: each member's first basket from it on is their learning target."""
    return last_day - LEARN_WINDOW_DAYS + 1


def learn_weights(log: PurchaseLog, last_day: int) -> RankerWeights | None:
    """Fit the ranker with each member's first basket of the last LEARN_WINDOW_DAYS as target; None when
    fewer than MIN_LEARN_MEMBERS members qualify."""
    snapshot = next_basket_snapshot(log, learning_split(last_day))
    rows = sample_rows(len(snapshot.customers))
    if rows is None:
        return None
    if len(rows) < len(snapshot.customers):
        sizes = np.diff(snapshot.target_start)
        products = np.concatenate([snapshot.target_product[snapshot.target_start[i]:snapshot.target_start[i + 1]]
                                   for i in rows])
        snapshot = Snapshot(snapshot.history, snapshot.customers[rows], snapshot.as_of[rows],
                            np.r_[0, np.cumsum(sizes[rows])], products)
    return learn_from([snapshot])


def learn(store: LoyaltyStore, today: int) -> RankingModel:
    products = store.products()
    log, names = store_log(store, products)
    return learn_from_log(log, names, today)


def learn_from_log(log: PurchaseLog, category_names: tuple[str, ...], today: int) -> RankingModel:
    """The model of a purchase log (a store's, or a whole chain's in central's offers-build)."""
    started = time.perf_counter()
    last_day = int(log.day.max()) if len(log) else today
    weights = learn_weights(log, last_day)
    stats = learn_stats(log, today)
    logger.info("Offer ranker learned from %d purchase lines in %.2f s (%s weights)", len(log),
                time.perf_counter() - started, "learned" if weights else "shipped default")
    return RankingModel(stats, weights or default_weights(), category_names, weights is not None)


def _encode(model: RankingModel, stamp: str) -> str:
    buffer = io.BytesIO()
    arrays = {f.name: getattr(model.stats, f.name) for f in fields(model.stats) if f.name != "as_of"}
    np.savez_compressed(buffer, **arrays)
    return json.dumps({
        "stamp": stamp, "as_of": model.stats.as_of, "weights": model.weights.to_json(),
        "categories": list(model.category_names), "learned_weights": model.learned_weights,
        "stats": base64.b64encode(buffer.getvalue()).decode("ascii"),
    })


def _decode(text: str, stamp: str, today: int) -> RankingModel | None:
    data = json.loads(text)
    if data.get("stamp") != stamp or data.get("as_of") != today:
        return None
    with np.load(io.BytesIO(base64.b64decode(data["stats"])), allow_pickle=False) as arrays:
        stats = PopulationStats(as_of=int(data["as_of"]), **{name: arrays[name] for name in arrays.files})
    return RankingModel(stats, RankerWeights.from_json(data["weights"]), tuple(data["categories"]),
                        bool(data["learned_weights"]))


def load_or_learn(store: LoyaltyStore, today: int, relearn: bool = False) -> RankingModel:
    """The model cached in the store when purchases, products and the day are unchanged, else learn and cache
    (`relearn`: learn and cache in any case)."""
    stamp = store.data_stamp()
    cached = None if relearn else store.get_meta(MODEL_META_KEY)
    if cached:
        try:
            model = _decode(cached, stamp, today)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            logger.warning("Cached offer ranker unreadable, learning again: %s", exc)
            model = None
        if model is not None:
            logger.info("Offer ranker loaded from the store's cache")
            return model
    model = learn(store, today)
    try:
        store.set_meta(MODEL_META_KEY, _encode(model, stamp))
    except LoyaltyError as exc:  # a cache only: a store opened read-only still serves offers
        logger.warning("Offer ranker not cached: %s", exc)
    return model
