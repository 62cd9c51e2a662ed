"""Next-best-offer rules engine: picks a shopper's offers from the current catalogue with the learned
`OfferModel` (kiosk.services.offer_model, which holds the rules), at most two per category, with reasons.
Offers outside their validity dates are never shown; offline evaluation lives in kiosk.evaluation.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date

from kiosk.services.loyalty import CatalogueOffer, LoyaltyStore
from kiosk.services.offer_model import MIN_CATEGORY_SHARE, WEIGHT_CATEGORY, OfferModel, Scored, ShopperProfile
from kiosk.services.records import Offer, OfferRule

logger = logging.getLogger(__name__)

MAX_PER_CATEGORY = 2
CATEGORY_OFFER_BONUS = 1.5  # an offer on a whole liked category beats one product of it


class OfferEngine:
    """Chooses a shopper's offers from the current catalogue; implements the session's OfferSource."""

    def __init__(self, store: LoyaltyStore, model: OfferModel | None = None, min_offers: int = 3) -> None:
        self._store = store
        self.model = model or OfferModel.load_or_learn(store)
        self.min_offers = min_offers
        self._catalogue_version = store.catalogue_version()
        self._catalogue = store.catalogue()

    def current_offers(self, today: date) -> list[CatalogueOffer]:
        """Valid offers today; a catalogue imported while the kiosk runs is picked up at the next scan."""
        version = self._store.catalogue_version()
        if version != self._catalogue_version:
            self._catalogue, self._catalogue_version = self._store.catalogue(), version
            logger.info("Offer catalogue reloaded (%d offers)", len(self._catalogue))
        return [o for o in self._catalogue if o.valid_on(today)]

    def offers_for(self, customer_id: int, today: date, limit: int, language: str | None = None) -> list[Offer]:
        """Up to `limit` personal offers, best first, titled in `language` where the catalogue has it."""
        history = self._store.history(customer_id)
        current = self.current_offers(today)
        candidates = {item.product_id for item in current if item.product_id is not None}
        profile = self.model.score_products(history, today.toordinal(), candidates)
        category_scores = {
            category: Scored(
                WEIGHT_CATEGORY * CATEGORY_OFFER_BONUS * share, OfferRule.CATEGORY,
                f"category: {share:.0%} of their purchases are {category}",
            )
            for category, share in profile.category_shares.items() if share >= MIN_CATEGORY_SHARE
        }
        ranked: list[tuple[float, Offer]] = []
        for item in current:
            best = self._score_offer(item, profile, category_scores)
            if best is not None:
                ranked.append((best.score, _to_offer(item, best, self._category(item), language)))
        ranked.sort(key=lambda pair: (-pair[0], pair[1].offer_id))
        return _pick(ranked, max(limit, 0), self.min_offers)

    def guest_offers(self, today: date, limit: int, language: str | None = None) -> list[Offer]:
        """Generic offers for a shopper without a card: biggest discounts and most popular first."""
        ranked = []
        for item in self.current_offers(today):
            pop = self._offer_popularity(item)
            discount = (item.discount_percent or 0) / 100
            reason = f"guest: {pop.reason}" + (f", {item.discount_percent}% off" if item.discount_percent else "")
            scored = Scored(pop.score + discount, OfferRule.POPULAR, reason)
            ranked.append((scored.score, _to_offer(item, scored, self._category(item), language)))
        ranked.sort(key=lambda pair: (-pair[0], pair[1].offer_id))
        return _pick(ranked, max(limit, 0), 0)

    def _category(self, item: CatalogueOffer) -> str:
        if item.product_id is not None and item.product_id in self.model.products:
            return self.model.products[item.product_id].category
        return item.category or ""

    def _offer_popularity(self, item: CatalogueOffer) -> Scored:
        if item.product_id is not None:
            return self.model.popularity(item.product_id)
        best = self.model.category_best.get(item.category or "")
        if best is None:
            return Scored(0.0, OfferRule.POPULAR, "popular: new category")
        scored = self.model.popularity(best)
        return Scored(scored.score, OfferRule.POPULAR, f"popular category: {item.category}")

    def _score_offer(
        self,
        item: CatalogueOffer,
        profile: ShopperProfile,
        category_scores: dict[str, Scored],
    ) -> Scored | None:
        if self._category(item) in profile.blocked_categories:
            return None
        if item.product_id is not None:
            if item.product_id in profile.blocked_products:
                return None
            personal = profile.scores.get(item.product_id)
        else:
            personal = category_scores.get(item.category or "")
        popular = self._offer_popularity(item)
        if personal is None:
            return popular
        return Scored(personal.score + popular.score, personal.rule, personal.reason)


def _to_offer(item: CatalogueOffer, scored: Scored, category: str, language: str | None) -> Offer:
    return Offer(
        offer_id=item.offer_id, title=item.title_in(language), icon=item.icon, price_cents=item.price_cents,
        discount_percent=item.discount_percent, valid_until=item.valid_until, category=category,
        reason=scored.reason, rule=scored.rule, score=round(scored.score, 4),
    )


def _pick(ranked: list[tuple[float, Offer]], limit: int, min_offers: int) -> list[Offer]:
    """Best first, at most MAX_PER_CATEGORY per category unless needed to reach `min_offers`."""
    picked: list[Offer] = []
    per_category: dict[str, int] = defaultdict(int)
    for _, offer in ranked:
        if len(picked) >= limit:
            break
        if per_category[offer.category] < MAX_PER_CATEGORY:
            picked.append(offer)
            per_category[offer.category] += 1
    for _, offer in ranked:
        if len(picked) >= min(limit, max(min_offers, 0)):
            break
        if offer not in picked:
            picked.append(offer)
    return picked
