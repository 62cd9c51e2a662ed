"""Partial population stats as rows (kind, key, count), so that Spark can add up the partials of its partitions.

Why rows: a merge of `StatsPartial`s is a sum of counts per (kind, key) (see kiosk.services.offer_features).
Spark adds them with one group-by-sum, which is the same merge without collecting every partition's pair
table on the driver; `partial_from_rows` turns the sums back into the kiosk's typed `StatsPartial`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kiosk.services.offer_features import StatsPartial

if TYPE_CHECKING:
    import pandas as pd

DENSE = ("popularity", "recent", "buyers", "repeaters")  # per-product counts (only non-zero ones become rows)
SPARSE = (("gap", "gap_code", "gap_count"), ("pair", "pair_code", "pair_count"))


def partial_rows(part: StatsPartial, stats: str) -> "pd.DataFrame":
    """The counts of `part` as rows (stats, kind, key, value); `stats` names which stats they belong to."""
    import pandas as pd

    kinds, keys, values = [], [], []
    for kind in DENSE:
        counts = getattr(part, kind)
        nonzero = np.flatnonzero(counts)
        kinds.append(np.full(len(nonzero), kind, dtype=object))
        keys.append(nonzero.astype(np.int64))
        values.append(counts[nonzero].astype(np.int64))
    for kind, code_field, count_field in SPARSE:
        codes = getattr(part, code_field)
        kinds.append(np.full(len(codes), kind, dtype=object))
        keys.append(codes.astype(np.int64))
        values.append(getattr(part, count_field).astype(np.int64))
    kind = np.concatenate(kinds)
    return pd.DataFrame({"stats": np.full(len(kind), stats, dtype=object), "kind": kind,
                         "key": np.concatenate(keys), "value": np.concatenate(values)})


def partial_from_rows(rows: "pd.DataFrame", as_of: int, product_category: np.ndarray) -> StatsPartial:
    """A `StatsPartial` from summed rows (kind, key, value) of one stats name."""
    n = len(product_category)
    fields: dict[str, np.ndarray] = {}
    for kind in DENSE:
        chosen = rows[rows["kind"] == kind]
        dense = np.zeros(n, dtype=np.int64)
        dense[chosen["key"].to_numpy(np.int64)] = chosen["value"].to_numpy(np.int64)
        fields[kind] = dense
    for kind, code_field, count_field in SPARSE:
        chosen = rows[rows["kind"] == kind].sort_values("key")
        fields[code_field] = chosen["key"].to_numpy(np.int64)
        fields[count_field] = chosen["value"].to_numpy(np.int64)
    return StatsPartial(as_of=as_of, product_category=np.asarray(product_category, dtype=np.int64), **fields)
