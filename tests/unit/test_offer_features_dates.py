"""Features of purchases dated on or after the day offers are made for (a till clock ahead of the kiosk's, an
import of "tomorrow"'s lines): every feature stays a finite number, so the ranker's scores do too."""
from __future__ import annotations

import numpy as np

from kiosk.services.offer_features import FEATURES, build_candidates, learn_stats
from kiosk.services.purchase_log import PurchaseLog


def test_purchases_dated_after_the_offer_day_give_finite_features() -> None:
    # member 0 bought product 0 on days 1 and 5, and again on day 12 and 13: after the offer day 11
    customer = np.array([0, 0, 0, 0, 1, 1])
    day = np.array([1, 5, 12, 13, 2, 6])
    product = np.array([0, 0, 0, 0, 2, 2])
    log = PurchaseLog.build(customer, day, product, np.arange(10) % 3, 2)
    stats = learn_stats(log, 11)
    table = build_candidates(log, np.array([0, 1]), np.full(2, 11), stats)
    bad = ~np.isfinite(table.features)
    assert not bad.any(), [FEATURES[i] for i in np.flatnonzero(bad.any(axis=0))]
