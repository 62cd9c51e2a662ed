"""The offer engine the kiosk uses: candidates + learned ranker (kiosk.services.offer_features / offer_ranker)
over the store's active catalogue, with the product rules and a shopper-facing reason per offer.

Rules kept from the first engine: a durable (and its category) is not offered within its durable period
after buying one; only offers valid today; at most `category_cap` offers per category; at least
`discovery_share` of the slots for products new to the shopper (when there are such candidates); filled
up with popular offers to `min_offers`. A member the model cannot rank gets popular offers, silently.

`MemberOfferRanker` is that engine without a store: it ranks any number of members' histories at once (one
candidate table and one scoring pass for the batch). The kiosk's `RankedOfferEngine` calls it for one member
per scan; central's `offers-build` calls it for thousands at a time, so both give the same offers.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date
from typing import Sequence

import numpy as np

from kiosk.services.loyalty import CatalogueOffer, LoyaltyStore, Product, Purchase
from kiosk.services.offer_features import CandidateTable, Source, build_candidates
from kiosk.services.offer_ranker import PickRules, choose, score
from kiosk.services.offer_ranking_model import RankingModel, load_or_learn
from kiosk.services.purchase_log import PurchaseLog
from kiosk.services.records import Offer, OfferReason, OfferRule, ReasonKind

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OfferCatalogue:
    """Today's valid offers, indexed for the ranker: which products (directly or by category) are offerable."""

    day: date
    version: str
    offers: tuple[CatalogueOffer, ...]
    product_offer: dict[int, int]  # product id -> index of its offer
    category_offer: dict[str, int]  # category -> index of its category offer
    offerable: np.ndarray  # bool per product code
    offer_of_product: np.ndarray  # int64 per product code: index of its offer (its own, else its category's), -1
    offer_category: np.ndarray  # int64 per offer: the category code the category cap counts (-1: none)


@dataclass(frozen=True)
class RankedProduct:
    """One ranked candidate of one member, with what the reason line needs."""

    product_id: int
    score: float
    repeat: bool
    source: Source


@dataclass(frozen=True)
class MemberHistories:
    """Purchase histories of several members as arrays: member i's lines are `start[i]:start[i + 1]`,
    ordered by (day, product)."""

    start: np.ndarray
    day: np.ndarray
    product: np.ndarray

    def __len__(self) -> int:
        return len(self.start) - 1

    @classmethod
    def from_lines(cls, member: np.ndarray, day: np.ndarray, product: np.ndarray, members: int) -> "MemberHistories":
        """Lines of members 0..members-1 (in any order)."""
        order = np.lexsort((product, day, member))
        start = np.r_[0, np.cumsum(np.bincount(member, minlength=members))].astype(np.int64)
        return cls(start, np.asarray(day, dtype=np.int64)[order], np.asarray(product, dtype=np.int64)[order])

    @classmethod
    def of(cls, history: Sequence[Purchase]) -> "MemberHistories":
        """One member's history as the loyalty store gives it."""
        return cls.from_lines(np.zeros(len(history), dtype=np.int64), np.array([p.day for p in history], dtype=np.int64),
                              np.array([p.product_id for p in history], dtype=np.int64), 1)


class MemberOfferRanker:
    """Ranks members' offers from a learned model, the products and a catalogue (no store needed)."""

    def __init__(self, model: RankingModel, products: dict[int, Product], min_offers: int = 3,
                 rules: PickRules = PickRules()) -> None:
        self.model = model
        self.products = products
        self.min_offers = min_offers
        self.rules = rules
        size = max(products, default=-1) + 1
        self._durable_days = np.zeros(size, dtype=np.int64)
        for pid, product in products.items():
            if product.kind == "durable" and product.durable_days:
                self._durable_days[pid] = product.durable_days

    # ----- catalogue ------------------------------------------------------------------------------------
    def catalogue(self, offers: Sequence[CatalogueOffer], today: date, version: str) -> OfferCatalogue:
        """The offers valid `today`, indexed."""
        valid = tuple(o for o in offers if o.valid_on(today))
        n = self.model.n_products
        offerable = np.zeros(n, dtype=bool)
        product_offer: dict[int, int] = {}
        category_offer: dict[str, int] = {}
        for i, item in enumerate(valid):
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
        offer_of_product = np.full(n, -1, dtype=np.int64)
        for pid in range(n):
            index = product_offer.get(pid)
            if index is None:
                product = self.products.get(pid)
                index = category_offer.get(product.category) if product else None
            if index is not None:
                offer_of_product[pid] = index
        offer_category = np.array([self._category_code(item) for item in valid], dtype=np.int64)
        return OfferCatalogue(today, version, valid, product_offer, category_offer, offerable, offer_of_product,
                              offer_category)

    # ----- members --------------------------------------------------------------------------------------
    def _table(self, histories: MemberHistories, members: np.ndarray, today: date, offerable: np.ndarray
               ) -> tuple[CandidateTable, np.ndarray]:
        """Candidates and scores of `members` (positions in `histories`), rows of member i of `members` at
        table.member_start[i]:table.member_start[i + 1]."""
        stats = self.model.stats
        counts = np.diff(histories.start)[members]
        lines = np.concatenate([np.arange(histories.start[m], histories.start[m + 1]) for m in members]) \
            if len(members) else np.zeros(0, dtype=np.int64)
        owner = np.repeat(np.arange(len(members)), counts)
        day, product = histories.day[lines], histories.product[lines]
        known = (product >= 0) & (product < stats.n_products)
        log = PurchaseLog.build(owner[known], day[known], product[known], stats.product_category, max(len(members), 1))
        table = build_candidates(log, np.arange(len(members), dtype=np.int64),
                                 np.full(len(members), today.toordinal(), dtype=np.int64), stats, offerable)
        return table, score(table, self.model.weights)

    def rank_member(self, history: list[Purchase], today: date, offerable: np.ndarray) -> list[RankedProduct]:
        """Every candidate of one member, best first (the same features and scores as the population path)."""
        table, scores = self._table(MemberHistories.of(history), np.zeros(1, dtype=np.int64), today, offerable)
        order = np.lexsort((table.product, -scores))
        return [RankedProduct(int(table.product[i]), float(scores[i]), bool(table.repeat[i]), Source(int(table.source[i])))
                for i in order]

    def _blocked(self, day: np.ndarray, product: np.ndarray, today: int) -> tuple[set[int], set[str]]:
        """Durables bought within their durable period: the product and its whole category."""
        inside = (product >= 0) & (product < len(self._durable_days))
        durable = np.zeros(len(product), dtype=np.int64)
        durable[inside] = self._durable_days[product[inside]]
        hit = np.unique(product[(durable > 0) & (today - day < durable)])
        products = set(hit.tolist())
        return products, {self.products[pid].category for pid in products}

    def _offerable(self, catalogue: OfferCatalogue, blocked: set[int], blocked_categories: set[str]) -> np.ndarray:
        offerable = catalogue.offerable.copy()
        for pid in blocked:
            if pid < len(offerable):
                offerable[pid] = False
        cats = self.model.stats.product_category
        for code, name in enumerate(self.model.category_names):
            if name in blocked_categories:
                offerable[cats == code] = False
        return offerable

    def offers_for_members(self, histories: MemberHistories, catalogue: OfferCatalogue, today: date, limit: int,
                           language: str | None = None) -> list[list[Offer]]:
        """Up to `limit` personal offers per member, best first, titled in `language` where the catalogue has it.

        Members without a durable in its period are ranked together (one candidate table); a member with one
        gets their own table (their offerable products differ). A member's candidates, features and scores do
        not depend on who else is in the batch, so a member gets the same offers alone or among thousands."""
        t = today.toordinal()
        blocked = [self._blocked(histories.day[histories.start[m]:histories.start[m + 1]],
                                 histories.product[histories.start[m]:histories.start[m + 1]], t)
                   for m in range(len(histories))] if len(self._durable_days) and self._durable_days.any() else \
            [(set(), set())] * len(histories)
        plain = np.array([m for m in range(len(histories)) if not blocked[m][0]], dtype=np.int64)
        ranked: dict[int, tuple[CandidateTable, np.ndarray, int]] = {}
        if len(plain):
            table, scores = self._table(histories, plain, today, catalogue.offerable)
            for i, m in enumerate(plain.tolist()):
                ranked[m] = (table, scores, i)
        for m in range(len(histories)):
            if blocked[m][0]:
                table, scores = self._table(histories, np.array([m]), today, self._offerable(catalogue, *blocked[m]))
                ranked[m] = (table, scores, 0)
        guests: dict[frozenset[str], list[Offer]] = {}
        result = []
        for m in range(len(histories)):
            table, scores, i = ranked[m]
            lo, hi = table.member_start[i], table.member_start[i + 1]
            picked = self._pick(table, scores, lo, hi, catalogue, limit)
            day = histories.day[histories.start[m]:histories.start[m + 1]]
            product = histories.product[histories.start[m]:histories.start[m + 1]]
            offers = [self._to_offer(offer, item, day, product, language, catalogue) for item, offer in picked]
            if len(offers) < min(limit, self.min_offers):
                exclude = frozenset(blocked[m][1])
                if exclude not in guests:
                    guests[exclude] = self.guest_offers(catalogue, limit, language, exclude)
                have = {o.offer_id for o in offers}
                for extra in guests[exclude]:
                    if len(offers) >= min(limit, self.min_offers):
                        break
                    if extra.offer_id not in have:
                        offers.append(extra)
            result.append(offers)
        return result

    def _pick(self, table: CandidateTable, scores: np.ndarray, lo: int, hi: int, catalogue: OfferCatalogue,
              limit: int) -> list[tuple[RankedProduct, CatalogueOffer]]:
        """The member's candidates best first, one per offer (the first product an offer covers), under the
        category cap and discovery share."""
        product, member_scores = table.product[lo:hi], scores[lo:hi]
        order = np.lexsort((product, -member_scores))
        offer_index = catalogue.offer_of_product[product[order]]
        positions, offer_index = order[offer_index >= 0], offer_index[offer_index >= 0]
        first = np.sort(np.unique(offer_index, return_index=True)[1])
        positions, offer_index = positions[first], offer_index[first]
        repeat = table.repeat[lo:hi][positions]
        discovery = int(math.ceil(self.rules.discovery_share * limit - 1e-9))
        picked = choose(catalogue.offer_category[offer_index], repeat, max(limit, 0), self.rules.category_cap, discovery)
        source = table.source[lo:hi]
        return [(RankedProduct(int(product[positions[i]]), float(member_scores[positions[i]]), bool(repeat[i]),
                               Source(int(source[positions[i]]))), catalogue.offers[int(offer_index[i])])
                for i in picked]

    def _category_code(self, offer: CatalogueOffer) -> int:
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

    def _reason(self, item: RankedProduct, day: np.ndarray, product: np.ndarray, language: str | None,
                catalogue: OfferCatalogue) -> tuple[OfferRule, OfferReason, str]:
        """Rule, shopper reason and staff log line of one chosen product (`day`, `product`: the member's lines)."""
        known = self.products.get(item.product_id)
        name = known.name if known else str(item.product_id)
        if item.repeat:
            gaps = np.diff(np.unique(day[product == item.product_id]))
            cycle = float(np.median(gaps)) if len(gaps) >= 1 else float(self.model.stats.cycle_days[item.product_id])
            if cycle >= 1:
                return (OfferRule.REPURCHASE, OfferReason(ReasonKind.CYCLE, days=round(cycle)),
                        f"repurchase: buys {name} about every {cycle:.0f} days, score {item.score:.2f}")
            return (OfferRule.REPURCHASE, OfferReason(ReasonKind.REGULAR),
                    f"repurchase: bought {name} before, score {item.score:.2f}")
        if item.source & Source.COPURCHASE:
            anchor = self._anchor(item.product_id, day, product)
            if anchor is not None:
                index = catalogue.product_offer.get(anchor.product_id)  # the name in the shopper's language
                shown = catalogue.offers[index].title_in(language) if index is not None else anchor.name
                return (OfferRule.TOGETHER, OfferReason(ReasonKind.GOES_WITH, anchor=shown,
                                                        anchor_offer=catalogue.offers[index].offer_id
                                                        if index is not None else None),
                        f"together: often bought with {anchor.name}, score {item.score:.2f}")
        if item.source & Source.CATEGORY:
            return (OfferRule.CATEGORY, OfferReason(ReasonKind.CATEGORY),
                    f"category: popular in one of their favourite categories, score {item.score:.2f}")
        return (OfferRule.POPULAR, OfferReason(ReasonKind.POPULAR),
                f"popular: in {int(self.model.stats.popularity[item.product_id])} baskets, score {item.score:.2f}")

    def _anchor(self, product_id: int, day: np.ndarray, product: np.ndarray) -> Product | None:
        """The product of the member's last basket that `product_id` goes with best (ties: the lowest product id)."""
        if not len(day):
            return None
        stats = self.model.stats
        best, best_weight = None, 0.0
        for pid in np.unique(product[day == day.max()]).tolist():
            if pid < 0 or pid >= stats.n_products:
                continue
            hit = np.flatnonzero(stats.neighbour[pid] == product_id)
            if len(hit) and stats.neighbour_weight[pid, hit[0]] > best_weight:
                best, best_weight = pid, float(stats.neighbour_weight[pid, hit[0]])
        return self.products.get(best) if best is not None else None

    def _to_offer(self, item: CatalogueOffer, ranked: RankedProduct, day: np.ndarray, product: np.ndarray,
                  language: str | None, catalogue: OfferCatalogue) -> Offer:
        rule, why, reason = self._reason(ranked, day, product, language, catalogue)
        return _offer(item, self._category(item), language, reason, rule, ranked.score, why)

    # ----- guests and fill-up ------------------------------------------------------------------------------
    def guest_offers(self, catalogue: OfferCatalogue, limit: int, language: str | None = None,
                     exclude_categories: set[str] | frozenset[str] = frozenset()) -> list[Offer]:
        """Generic offers: biggest discounts and most popular first, at most `category_cap` per category."""
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


class RankedOfferEngine:
    """Chooses a shopper's offers from the kiosk's loyalty store; implements the session's OfferSource."""

    def __init__(self, store: LoyaltyStore, model: RankingModel | None = None, min_offers: int = 3,
                 rules: PickRules = PickRules(), today: date | None = None) -> None:
        self._store = store
        self.ranker = MemberOfferRanker(model or load_or_learn(store, (today or date.today()).toordinal()),
                                        store.products(), min_offers, rules)
        self._catalogue: OfferCatalogue | None = None

    @property
    def model(self) -> RankingModel:
        return self.ranker.model

    @property
    def products(self) -> dict[int, Product]:
        return self.ranker.products

    @property
    def min_offers(self) -> int:
        return self.ranker.min_offers

    @property
    def rules(self) -> PickRules:
        return self.ranker.rules

    def catalogue_on(self, today: date) -> OfferCatalogue:
        """Today's valid offers; a catalogue imported while the kiosk runs is picked up at the next scan."""
        version = self._store.catalogue_version()
        if self._catalogue is not None and (self._catalogue.day, self._catalogue.version) == (today, version):
            return self._catalogue
        self._catalogue = self.ranker.catalogue(self._store.catalogue(), today, version)
        logger.info("Offer catalogue for %s: %d valid offers", today.isoformat(), len(self._catalogue.offers))
        return self._catalogue

    def rank_member(self, history: list[Purchase], today: date, offerable: np.ndarray) -> list[RankedProduct]:
        """Every candidate of one member, best first (the same features and scores as the population path)."""
        return self.ranker.rank_member(history, today, offerable)

    def offers_for(self, customer_id: int, today: date, limit: int, language: str | None = None) -> list[Offer]:
        """Up to `limit` personal offers, best first, titled in `language` where the catalogue has it."""
        history = MemberHistories.of(self._store.history(customer_id))
        return self.ranker.offers_for_members(history, self.catalogue_on(today), today, limit, language)[0]

    def guest_offers(self, today: date, limit: int, language: str | None = None,
                     exclude_categories: set[str] | frozenset[str] = frozenset()) -> list[Offer]:
        """Generic offers: biggest discounts and most popular first, at most `category_cap` per category."""
        return self.ranker.guest_offers(self.catalogue_on(today), limit, language, exclude_categories)


def _offer(item: CatalogueOffer, category: str, language: str | None, reason: str, rule: OfferRule, value: float,
           why: OfferReason) -> Offer:
    return Offer(item.offer_id, item.title_in(language), item.icon, item.price_cents, item.discount_percent,
                 item.valid_until, category, reason, rule, value, why, item.regular_price_cents)
