"""The embedded engine: the whole build in this process, with the kiosk engine's own numpy code.

Why numpy (with pyarrow for reading): the kiosk's offer model is already learned by vectorised numpy
functions (`OfferModel.from_arrays`), so the embedded build is that very code on the chain's arrays;
pandas, DuckDB or Polars would add a second implementation of the same aggregates, not speed where the
time goes (the per-member scoring, which is the kiosk's Python code by design).
"""
from __future__ import annotations

import time
from datetime import date

import numpy as np

from central.offers_build.errors import BuildInputError
from central.offers_build.export import Catalogue, Transactions
from central.offers_build.population import rank_population
from central.offers_build.ranking import Ranking
from kiosk.services.offer_model import OfferModel


def store_members(tx: Transactions, stores: tuple[str, ...] | None = None) -> dict[str, tuple[str, ...]]:
    """Which members bought in which store (distinct pairs, members sorted); only `stores` when given."""
    pairs = np.unique(tx.store * len(tx.members) + tx.member)
    store_codes, members = pairs // len(tx.members), pairs % len(tx.members)
    result: dict[str, list[str]] = {}
    for s, m in zip(store_codes.tolist(), members.tolist()):
        result.setdefault(tx.stores[s], []).append(tx.members[m])
    return {name: tuple(sorted(ms)) for name, ms in result.items() if stores is None or name in stores}


def rank_embedded(
    catalogue: Catalogue, tx: Transactions, today: date, limit: int, min_offers: int,
    stores: tuple[str, ...] | None = None,
) -> Ranking:
    """Learn from every line of the chain; rank every member (or those who shop in `stores`)."""
    started = time.perf_counter()
    model = OfferModel.from_arrays(catalogue.products, tx.member, tx.day, tx.product)
    learned = time.perf_counter()
    member, day, product = tx.member, tx.day, tx.product
    if stores is not None:
        missing = sorted(set(stores) - set(tx.stores))
        if missing:
            raise BuildInputError(f"--store {missing[0]}: not a store of the export (it has: {', '.join(sorted(tx.stores))})")
        codes = np.flatnonzero(np.isin(np.array(tx.stores, dtype=object), list(stores)))
        wanted = np.unique(tx.member[np.isin(tx.store, codes)])
        keep = np.isin(member, wanted)
        member, day, product = member[keep], day[keep], product[keep]
    offers = {
        tx.members[ranked.member]: ranked.offers
        for ranked in rank_population(model, catalogue.offers, member, day, product, today, limit, min_offers)
    }
    ranked_at = time.perf_counter()
    return Ranking(offers, store_members(tx, stores), tx.lines, tx.skipped_returns, learned - started,
                   ranked_at - learned, model)
