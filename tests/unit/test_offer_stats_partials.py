"""Population stats are mergeable: counted per part of the members and merged, they equal one `learn_stats`
over everything (what lets Spark learn the kiosk's stats partition by partition)."""
from __future__ import annotations

import numpy as np
import pytest

from kiosk.services.offer_features import (
    PopulationStats, finalise_stats, learn_stats, merge_partials, partial_stats,
)
from kiosk.services.purchase_log import PurchaseLog


def random_log(seed: int, members: int = 400, products: int = 60) -> PurchaseLog:
    """Members with 1-12 baskets of 1-8 products over 120 days; a few popular products, categories of 6."""
    rng = np.random.default_rng(seed)
    customer, day, product = [], [], []
    popular = rng.permutation(products)
    for member in range(members):
        for basket_day in np.sort(rng.choice(120, size=rng.integers(1, 13), replace=False)):
            size = rng.integers(1, 9)
            chosen = popular[np.minimum(rng.geometric(0.08, size) - 1, products - 1)]
            customer += [member] * size
            day += [700_000 + int(basket_day)] * size
            product += chosen.tolist()
    categories = np.arange(products) // 6
    categories[::11] = -1  # some products without a category
    return PurchaseLog.build(np.array(customer), np.array(day), np.array(product), categories, members)


def same_stats(a: PopulationStats, b: PopulationStats) -> list[str]:
    differing = []
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if not (np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y):
            differing.append(name)
    return differing


@pytest.mark.parametrize("parts", [1, 2, 7])
def test_merged_partials_equal_the_one_shot_stats(parts: int) -> None:
    log = random_log(parts)
    as_of = int(log.day.max()) + 1
    whole = learn_stats(log, as_of)
    part_of = np.random.default_rng(99).integers(0, parts, log.n_customers)  # members split at random
    merged = finalise_stats(merge_partials([partial_stats(log.select(part_of[log.customer] == k), as_of)
                                            for k in range(parts)]))
    assert same_stats(whole, merged) == []
    assert (whole.cycle_days > 0).sum() > 10 and (whole.neighbour >= 0).sum() > 100  # the test sees real content


def test_partials_of_other_days_do_not_merge() -> None:
    log = random_log(3, members=20)
    with pytest.raises(ValueError, match="cannot be merged"):
        merge_partials([partial_stats(log, 700_100), partial_stats(log, 700_101)])


def test_partials_survive_the_trip_through_bytes() -> None:
    """How Spark partitions hand their counts to the driver (central.offers_build.stats_blobs)."""
    from central.offers_build.stats_blobs import partial_bytes, partial_from_bytes

    log = random_log(5, members=60)
    part = partial_stats(log, 700_130)
    back = partial_from_bytes(partial_bytes(part))
    assert back.as_of == 700_130 and isinstance(back.as_of, int)
    for name in part.__dataclass_fields__:
        assert np.array_equal(getattr(part, name), getattr(back, name)), name
    assert same_stats(finalise_stats(back), learn_stats(log, 700_130)) == []
