"""build_candidates(extra=...): caller-given candidates (the offers-knn experiment's switch)."""
from __future__ import annotations

import numpy as np

from kiosk.services.offer_features import Source, build_candidates, learn_stats
from kiosk.services.purchase_log import PurchaseLog


def _log() -> PurchaseLog:
    # 3 members, 60 products; member 0 buys 0 and 1, the others buy popular 2..5
    customer = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    day = np.array([1, 1, 5, 2, 2, 6, 3, 3, 7, 7])
    product = np.array([0, 1, 0, 2, 3, 2, 4, 5, 4, 5])
    return PurchaseLog.build(customer, day, product, np.arange(60) % 7, 3)


def test_extra_candidates_are_added_and_flagged() -> None:
    log = _log()
    stats = learn_stats(log, 10)
    members = np.array([0, 1])
    as_of = np.full(2, 10)
    plain = build_candidates(log, members, as_of, stats)
    rare = 59  # bought by nobody: no other source proposes it
    assert not (plain.product == rare).any()
    table = build_candidates(log, members, as_of, stats, extra=np.array([0 * 60 + rare, 0 * 60 + 0]))
    row = np.flatnonzero((table.member == 0) & (table.product == rare))
    assert len(row) == 1 and table.source[row[0]] == Source.EXTRA and not table.repeat[row[0]]
    own = np.flatnonzero((table.member == 0) & (table.product == 0))[0]
    assert table.source[own] & Source.OWN and table.source[own] & Source.EXTRA
    assert len(table) == len(plain) + 1 and not ((table.member == 1) & (table.product == rare)).any()
    offerable = np.ones(60, dtype=bool)
    offerable[rare] = False
    assert len(build_candidates(log, members, as_of, stats, offerable, extra=np.array([rare]))) == len(
        build_candidates(log, members, as_of, stats, offerable))
