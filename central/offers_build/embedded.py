"""The embedded engine: the whole build in this process, with the kiosk engine's own numpy code.

Why numpy (with pyarrow for reading): the kiosk's offer ranker is already vectorised numpy over a population
(`learn_stats`, `build_candidates`, `score`), so the embedded build is that very code on the chain's arrays;
pandas, DuckDB or Polars would add a second implementation of the same features, not speed.
"""
from __future__ import annotations

import time

import numpy as np

from central.offers_build.errors import BuildInputError
from central.offers_build.export import Transactions
from central.offers_build.population import BuildSettings, chain_log, members_offers
from central.offers_build.ranking import Ranking
from kiosk.services.offer_ranking_model import learn_from_log


def store_members(tx: Transactions, stores: tuple[str, ...] | None = None) -> dict[str, tuple[str, ...]]:
    """Which members bought in which store (distinct pairs, members sorted); only `stores` when given."""
    pairs = np.unique(tx.store * len(tx.members) + tx.member)
    store_codes, members = pairs // len(tx.members), pairs % len(tx.members)
    result: dict[str, list[str]] = {}
    for s, m in zip(store_codes.tolist(), members.tolist()):
        result.setdefault(tx.stores[s], []).append(tx.members[m])
    return {name: tuple(sorted(ms)) for name, ms in result.items() if stores is None or name in stores}


def rank_embedded(settings: BuildSettings, tx: Transactions, stores: tuple[str, ...] | None = None) -> Ranking:
    """Learn the kiosk's ranking model from every line of the chain; rank every member (or those who shop in
    `stores`) with the kiosk's engine."""
    if stores is not None:
        missing = sorted(set(stores) - set(tx.stores))
        if missing:
            raise BuildInputError(f"--store {missing[0]}: not a store of the export (it has: {', '.join(sorted(tx.stores))})")
    started = time.perf_counter()
    log, names = chain_log(settings.products, tx.member, tx.day, tx.product)
    model = learn_from_log(log, names, settings.today.toordinal())
    del log
    learned = time.perf_counter()
    member, day, product = tx.member, tx.day, tx.product
    if stores is not None:
        codes = np.flatnonzero(np.isin(np.array(tx.stores, dtype=object), list(stores)))
        wanted = np.unique(tx.member[np.isin(tx.store, codes)])
        keep = np.isin(member, wanted)
        member, day, product = member[keep], day[keep], product[keep]
    offers = members_offers(model, settings, tx.members, member, day, product)
    ranked_at = time.perf_counter()
    return Ranking(offers, store_members(tx, stores), tx.lines, tx.skipped_returns, learned - started,
                   ranked_at - learned, model)
