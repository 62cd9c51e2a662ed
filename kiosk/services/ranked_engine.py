"""The offer engine the kiosk uses: candidates + learned ranker (kiosk.services.offer_features / offer_ranker)
over the store's active catalogue, with the product rules and a shopper-facing reason per offer.

Rules kept from the first engine: a durable (and its category) is not offered within its durable period
after buying one; only offers valid today; at most `category_cap` offers per category; at least
`discovery_share` of the slots for products new to the shopper (when there are such candidates); filled
up with popular offers to `min_offers`. A member the model cannot rank gets popular offers, silently.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from kiosk.services.loyalty import CatalogueOffer, LoyaltyStore, Product, Purchase
from kiosk.services.offer_features import CandidateTable, PopulationStats, Source, build_candidates
from kiosk.services.offer_ranker import PickRules, choose, score
from kiosk.services.offer_ranking_model import RankingModel, load_or_learn
from kiosk.services.purchase_log import PurchaseLog
from kiosk.services.records import Offer, OfferReason, OfferRule, ReasonKind

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Catalogue:
    """Today's valid offers, indexed for the ranker: which products (directly or by category) are offerable."""

    day: date
    version: str
    offers: tuple[CatalogueOffer, ...]
    product_offer: dict[int, int]  # product id -> index of its offer
    category_offer: dict[str, int]  # category -> index of its category offer
    offerable: np.ndarray  # bool per product code


@dataclass(frozen=True)
class RankedProduct:
    """One ranked candidate of one member, with what the reason line needs."""

    product_id: int
    score: float
    repeat: bool
    source: Source


class RankedOfferEngine:
    """Chooses a shopper's offers; implements the session's OfferSource."""

    def __init__(self, store: LoyaltyStore, model: RankingModel | None = None, min_offers: int = 3,
                 rules: PickRules = PickRules(), today: date | None = None) -> None:
        self._store = store
        self.model = model or load_or_learn(store, (today or date.today()).toordinal())
        self.products: dict[int, Product] = store.products()
        self.min_offers = min_offers
        self.rules = rules
        self._catalogue: _Catalogue | None = None

    # ----- catalogue ------------------------------------------------------------------------------------
    def catalogue_on(self, today: date) -> _Catalogue:
        """Today's valid offers; a catalogue imported while the kiosk runs is picked up at the next scan."""
        version = self._store.catalogue_version()
        if self._catalogue is not None and (self._catalogue.day, self._catalogue.version) == (today, version):
            return self._catalogue
        offers = tuple(o for o in self._store.catalogue() if o.valid_on(today))
        n = self.model.n_products
        offerable = np.zeros(n, dtype=bool)
        product_offer: dict[int, int] = {}
        category_offer: dict[str, int] = {}
        for i, item in enumerate(offers):
            if item.product_id is not None:
                product_offer.setdefault(item.product_id, i)
                if item.product_id < n:
                    offerable[item.product_id] = True
            elif item.category:
                category_offer.setdefault(item.category, i)
        if category_offer:
            names = self.model.category_names
            liked = np.array([names[c] in category_offer if c >= 0 else False
                              for c in range(len(names))] or [False], dtype=bool)
            cats = self.model.stats.product_category
            offerable |= (cats >= 0) & liked[np.maximum(cats, 0)]
        self._catalogue = _Catalogue(today, version, offers, product_offer, category_offer, offerable)
        logger.info("Offer catalogue for %s: %d valid offers", today.isoformat(), len(offers))
        return self._catalogue

    # ----- one member ----------------------------------------------------------------------------------
    def rank_member(self, history: list[Purchase], today: date, offerable: np.ndarray) -> list[RankedProduct]:
        """Every candidate of one member, best first (the same features and scores as the population path)."""
        stats = self.model.stats
        known = [p for p in history if 0 <= p.product_id < stats.n_products]
        log = PurchaseLog.build(
            np.zeros(len(known), dtype=np.int64), np.array([p.day for p in known], dtype=np.int64),
            np.array([p.product_id for p in known], dtype=np.int64), stats.product_category, 1)
        table = build_candidates(log, np.zeros(1, dtype=np.int64), np.array([today.toordinal()]), stats, offerable)
        scores = score(table, self.model.weights)
        order = np.lexsort((table.product, -scores))
        return [RankedProduct(int(table.product[i]), float(scores[i]), bool(table.repeat[i]), Source(int(table.source[i])))
                for i in order]

    def _blocked(self, history: list[Purchase], today: int) -> tuple[set[int], set[str]]:
        """Durables bought within their durable period: the product and its whole category."""
        products: set[int] = set()
        categories: set[str] = set()
        for purchase in history:
            product = self.products.get(purchase.product_id)
            if product and product.kind == "durable" and product.durable_days and \
                    today - purchase.day < product.durable_days:
                products.add(product.product_id)
                categories.add(product.category)
        return products, categories

    def offers_for(self, customer_id: int, today: date, limit: int, language: str | None = None) -> list[Offer]:
        """Up to `limit` personal offers, best first, titled in `language` where the catalogue has it."""
        history = self._store.history(customer_id)
        catalogue = self.catalogue_on(today)
        blocked, blocked_categories = self._blocked(history, today.toordinal())
        offerable = catalogue.offerable.copy()
        if blocked or blocked_categories:
            for pid in blocked:
                if pid < len(offerable):
                    offerable[pid] = False
            names = self.model.category_names
            cats = self.model.stats.product_category
            for code, name in enumerate(names):
                if name in blocked_categories:
                    offerable[cats == code] = False
        ranked = self.rank_member(history, today, offerable)
        chosen: list[tuple[RankedProduct, CatalogueOffer]] = []
        seen: set[str] = set()
        for item in ranked:
            offer = self._offer_of(catalogue, item.product_id)
            if offer is None or offer.offer_id in seen:
                continue
            seen.add(offer.offer_id)
            chosen.append((item, offer))
        categories = np.array([self._category_code(offer, item.product_id) for item, offer in chosen], dtype=np.int64)
        repeat = np.array([item.repeat for item, _ in chosen], dtype=bool)
        discovery = int(math.ceil(self.rules.discovery_share * limit - 1e-9))
        picked = [chosen[i] for i in choose(categories, repeat, max(limit, 0), self.rules.category_cap, discovery)]
        result = [self._to_offer(offer, item, history, language, catalogue) for item, offer in picked]
        if len(result) < min(limit, self.min_offers):
            have = {o.offer_id for o in result}
            for extra in self.guest_offers(today, limit, language, exclude_categories=blocked_categories):
                if len(result) >= min(limit, self.min_offers):
                    break
                if extra.offer_id not in have:
                    result.append(extra)
        return result

    def _offer_of(self, catalogue: _Catalogue, product_id: int) -> CatalogueOffer | None:
        index = catalogue.product_offer.get(product_id)
        if index is None:
            product = self.products.get(product_id)
            index = catalogue.category_offer.get(product.category) if product else None
        return None if index is None else catalogue.offers[index]

    def _category_code(self, offer: CatalogueOffer, product_id: int) -> int:
        category = self._category(offer)
        names = self.model.category_names
        try:
            return names.index(category)
        except ValueError:
            return -1

    def _category(self, offer: CatalogueOffer) -> str:
        if offer.product_id is not None and offer.product_id in self.products:
            return self.products[offer.product_id].category
        return offer.category or ""

    def _reason(self, item: RankedProduct, history: list[Purchase], language: str | None, catalogue: _Catalogue
                ) -> tuple[OfferRule, OfferReason, str]:
        """Rule, shopper reason and staff log line of one chosen product."""
        product = self.products.get(item.product_id)
        name = product.name if product else str(item.product_id)
        if item.repeat:
            days = sorted({p.day for p in history if p.product_id == item.product_id})
            gaps = np.diff(days)
            cycle = float(np.median(gaps)) if len(gaps) >= 1 else float(self.model.stats.cycle_days[item.product_id])
            if cycle >= 1:
                return (OfferRule.REPURCHASE, OfferReason(ReasonKind.CYCLE, days=round(cycle)),
                        f"repurchase: buys {name} about every {cycle:.0f} days, score {item.score:.2f}")
            return (OfferRule.REPURCHASE, OfferReason(ReasonKind.REGULAR),
                    f"repurchase: bought {name} before, score {item.score:.2f}")
        if item.source & Source.COPURCHASE:
            anchor = self._anchor(item.product_id, history)
            if anchor is not None:
                index = catalogue.product_offer.get(anchor.product_id)  # the name in the shopper's language
                shown = catalogue.offers[index].title_in(language) if index is not None else anchor.name
                return (OfferRule.TOGETHER, OfferReason(ReasonKind.GOES_WITH, anchor=shown),
                        f"together: often bought with {anchor.name}, score {item.score:.2f}")
        if item.source & Source.CATEGORY:
            return (OfferRule.CATEGORY, OfferReason(ReasonKind.CATEGORY),
                    f"category: popular in one of their favourite categories, score {item.score:.2f}")
        return (OfferRule.POPULAR, OfferReason(ReasonKind.POPULAR),
                f"popular: in {int(self.model.stats.popularity[item.product_id])} baskets, score {item.score:.2f}")

    def _anchor(self, product_id: int, history: list[Purchase]) -> Product | None:
        """The product of the member's last basket that `product_id` goes with best."""
        if not history:
            return None
        last_day = max(p.day for p in history)
        stats = self.model.stats
        best, best_weight = None, 0.0
        for purchase in history:
            if purchase.day != last_day or purchase.product_id >= stats.n_products:
                continue
            partners = stats.neighbour[purchase.product_id]
            hit = np.flatnonzero(partners == product_id)
            if len(hit) and stats.neighbour_weight[purchase.product_id, hit[0]] > best_weight:
                best, best_weight = purchase.product_id, float(stats.neighbour_weight[purchase.product_id, hit[0]])
        return self.products.get(best) if best is not None else None

    def _to_offer(self, item: CatalogueOffer, ranked: RankedProduct, history: list[Purchase],
                  language: str | None, catalogue: _Catalogue) -> Offer:
        rule, why, reason = self._reason(ranked, history, language, catalogue)
        return _offer(item, self._category(item), language, reason, rule, ranked.score, why)

    # ----- guests and fill-up ------------------------------------------------------------------------------
    def guest_offers(self, today: date, limit: int, language: str | None = None,
                     exclude_categories: set[str] | frozenset[str] = frozenset()) -> list[Offer]:
        """Generic offers: biggest discounts and most popular first, at most `category_cap` per category."""
        catalogue = self.catalogue_on(today)
        popularity = self.model.stats.popularity
        best_in_category: dict[str, float] = {}
        for pid, product in self.products.items():
            if pid < len(popularity):
                best_in_category[product.category] = max(best_in_category.get(product.category, 0.0),
                                                          float(popularity[pid]))
        top = max(float(popularity.max()) if len(popularity) else 0.0, 1.0)
        ranked: list[tuple[float, str, CatalogueOffer]] = []
        for item in catalogue.offers:
            category = self._category(item)
            if category in exclude_categories:
                continue
            if item.product_id is not None and item.product_id < len(popularity):
                pop = float(popularity[item.product_id])
            else:
                pop = best_in_category.get(category, 0.0)
            ranked.append((pop / top + (item.discount_percent or 0) / 100, category, item))
        ranked.sort(key=lambda entry: (-entry[0], entry[2].offer_id))
        names = self.model.category_names
        codes = np.array([names.index(c) if c in names else -1 for _, c, _ in ranked], dtype=np.int64)
        keep = choose(codes, np.zeros(len(ranked), dtype=bool), max(limit, 0), self.rules.category_cap, 0)
        return [
            _offer(ranked[i][2], ranked[i][1], language, f"popular: guest offer, score {ranked[i][0]:.2f}",
                   OfferRule.POPULAR, ranked[i][0], OfferReason(ReasonKind.POPULAR))
            for i in keep
        ]


def _offer(item: CatalogueOffer, category: str, language: str | None, reason: str, rule: OfferRule, value: float,
           why: OfferReason) -> Offer:
    return Offer(item.offer_id, item.title_in(language), item.icon, item.price_cents, item.discount_percent,
                 item.valid_until, category, reason, rule, value, why, item.regular_price_cents)
