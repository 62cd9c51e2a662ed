"""Ranks members with the kiosk's own offer engine, one member at a time over population arrays.

Why: "the central build and the kiosk agree" only holds if both run the same scoring code. So the build
does not re-implement any rule: it hands each member's history to `kiosk.services.offers.OfferEngine`
through `BuildStore`, a read-only stand-in for the kiosk's loyalty store. Both engines (embedded and
Spark's `mapInPandas` over partitions by member) call `rank_population` on the rows of the members they hold.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterator, Sequence

import numpy as np

from kiosk.services.loyalty import CatalogueOffer, Purchase
from kiosk.services.offer_model import OfferModel
from kiosk.services.offers import OfferEngine
from kiosk.services.records import Offer


@dataclass(frozen=True, slots=True)
class MemberOffers:
    """One member's ranked offers (member as the engine's integer code)."""

    member: int
    offers: tuple[Offer, ...]


class BuildStore:
    """What `OfferEngine` reads from a loyalty store: the catalogue, and the history of the member being ranked."""

    def __init__(self, catalogue: Sequence[CatalogueOffer]) -> None:
        self._catalogue = list(catalogue)
        self._history: list[Purchase] = []

    def catalogue(self) -> list[CatalogueOffer]:
        return self._catalogue

    def catalogue_version(self) -> str:
        return "offers-build"

    def history(self, customer_id: int) -> list[Purchase]:
        return self._history

    def set_history(self, history: list[Purchase]) -> None:
        self._history = history


def rank_population(
    model: OfferModel,
    catalogue: Sequence[CatalogueOffer],
    member: np.ndarray,
    day: np.ndarray,
    product: np.ndarray,
    today: date,
    limit: int,
    min_offers: int,
) -> Iterator[MemberOffers]:
    """Each member's offers, members in ascending code order.

    A member's history is given to the engine ordered by (day, product), so that every engine that calls
    this sees the same order (the engine's tie-breaks between equal scores follow the history's order).
    """
    store = BuildStore(catalogue)
    engine = OfferEngine(store, model=model, min_offers=min_offers)  # type: ignore[arg-type]  # duck-typed store
    order = np.lexsort((product, day, member))
    m, d, p = member[order], day[order], product[order]
    if len(m) == 0:
        return
    starts = np.flatnonzero(np.r_[True, m[1:] != m[:-1]])
    ends = np.r_[starts[1:], len(m)]
    days, products = d.tolist(), p.tolist()
    for start, end in zip(starts.tolist(), ends.tolist()):
        store.set_history([Purchase(products[i], days[i], 1) for i in range(start, end)])
        offers = engine.offers_for(int(m[start]), today, limit)
        yield MemberOffers(int(m[start]), tuple(offers))
