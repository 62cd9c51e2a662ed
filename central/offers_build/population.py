"""Ranks members with the kiosk's own offer engine, a batch of members at a time over population arrays.

Why: "the central build and the kiosk agree" only holds if both run the same code. So the build re-implements
nothing: the model is learned by the kiosk's `offer_ranking_model.learn_from_log` (embedded) or from the same
mergeable counts (Spark), and each batch of members goes through the kiosk's `MemberOfferRanker` — the code
`RankedOfferEngine.offers_for` runs for one member per scan: candidates and features (`build_candidates`), scores
(`score`), the product rules (durables, category cap, discovery share, popular fill-up) and the reasons. Both
engines (embedded, and Spark's `mapInPandas` over partitions by member) call `rank_population`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterator, Sequence

import numpy as np

from kiosk.services.loyalty import CatalogueOffer, Product
from kiosk.services.offer_ranker import PickRules
from kiosk.services.offer_ranking_model import RankingModel, category_codes
from kiosk.services.purchase_log import PurchaseLog
from kiosk.services.ranked_engine import MemberHistories, MemberOfferRanker
from kiosk.services.records import Offer

BATCH_MEMBERS = 2000  # members ranked with one candidate table (~20 KB each)
CATALOGUE_VERSION = "offers-build"


@dataclass(frozen=True, slots=True)
class MemberOffers:
    """One member's ranked offers (member as the engine's integer code)."""

    member: int
    offers: tuple[Offer, ...]


@dataclass(frozen=True)
class BuildSettings:
    """What the ranking needs besides the model: the build day, the catalogue and the kiosk's offer settings."""

    today: date
    products: dict[int, Product]
    offers: tuple[CatalogueOffer, ...]
    limit: int
    min_offers: int
    rules: PickRules


def chain_log(products: dict[int, Product], member: np.ndarray, day: np.ndarray, product: np.ndarray
              ) -> tuple[PurchaseLog, tuple[str, ...]]:
    """The chain's purchases as the kiosk's PurchaseLog (as `store_log` builds a store's), with category names."""
    n_products = max(max(products, default=0), int(product.max()) if len(product) else 0) + 1
    categories, names = category_codes(products, n_products)
    n_customers = int(member.max()) + 1 if len(member) else 1
    return PurchaseLog.build(member, day, product, categories, n_customers), names


def rank_population(
    model: RankingModel,
    settings: BuildSettings,
    member: np.ndarray,
    day: np.ndarray,
    product: np.ndarray,
) -> Iterator[MemberOffers]:
    """Each member's offers, members in ascending code order, BATCH_MEMBERS at a time."""
    ranker = MemberOfferRanker(model, settings.products, settings.min_offers, settings.rules)
    catalogue = ranker.catalogue(settings.offers, settings.today, CATALOGUE_VERSION)
    order = np.lexsort((product, day, member))
    m, d, p = member[order], day[order], product[order]
    if len(m) == 0:
        return
    codes, starts = np.unique(m, return_index=True)
    bounds = np.r_[starts, len(m)]
    for first in range(0, len(codes), BATCH_MEMBERS):
        last = min(first + BATCH_MEMBERS, len(codes))
        lo, hi = bounds[first], bounds[last]
        histories = MemberHistories(bounds[first:last + 1] - lo, d[lo:hi], p[lo:hi])
        for code, offers in zip(codes[first:last].tolist(),
                                ranker.offers_for_members(histories, catalogue, settings.today, settings.limit)):
            yield MemberOffers(code, tuple(offers))


def members_offers(model: RankingModel, settings: BuildSettings, members: Sequence[str] | np.ndarray,
                   member: np.ndarray, day: np.ndarray, product: np.ndarray) -> dict[str, tuple[Offer, ...]]:
    """`rank_population` keyed by card number (`members[code]`)."""
    return {members[ranked.member]: ranked.offers for ranked in rank_population(model, settings, member, day, product)}
