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

from central.offers_build.export import Catalogue, Transactions
from central.offers_build.population import rank_population
from central.offers_build.ranking import Ranking
from kiosk.services.offers import OfferModel


def store_members(tx: Transactions) -> dict[str, tuple[str, ...]]:
    """Which members bought in which store (distinct pairs), members sorted."""
    pairs = np.unique(tx.store * len(tx.members) + tx.member)
    stores, members = pairs // len(tx.members), pairs % len(tx.members)
    result: dict[str, list[str]] = {name: [] for name in tx.stores}
    for s, m in zip(stores.tolist(), members.tolist()):
        result[tx.stores[s]].append(tx.members[m])
    return {name: tuple(sorted(ms)) for name, ms in result.items() if ms}


def rank_embedded(catalogue: Catalogue, tx: Transactions, today: date, limit: int, min_offers: int) -> Ranking:
    started = time.perf_counter()
    model = OfferModel.from_arrays(catalogue.products, tx.member, tx.day, tx.product)
    learned = time.perf_counter()
    offers = {
        tx.members[ranked.member]: ranked.offers
        for ranked in rank_population(model, catalogue.offers, tx.member, tx.day, tx.product, today, limit, min_offers)
    }
    ranked_at = time.perf_counter()
    return Ranking(offers, store_members(tx), tx.lines, tx.skipped_returns, learned - started, ranked_at - learned)
