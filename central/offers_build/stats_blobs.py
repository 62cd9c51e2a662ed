"""Partial population stats as bytes, so that Spark partitions can hand their counts to the driver's merge.

Why bytes and not rows: a partition's counts hold a table of product pairs (millions of distinct pairs per
partition on Ta-Feng-sized data); as Spark rows they would go through a shuffle and a group-by. As one
binary value per partition they travel in one piece and the driver merges them with the kiosk's own
`merge_partials` (kiosk.services.offer_features), a few at a time, so memory holds one merged table plus a
handful of partials.
"""
from __future__ import annotations

import io
from dataclasses import fields

import numpy as np

from kiosk.services.offer_features import StatsPartial


def partial_bytes(part: StatsPartial) -> bytes:
    """`part` as an uncompressed .npz (its arrays; `as_of` as a 0-d array)."""
    buffer = io.BytesIO()
    np.savez(buffer, **{f.name: np.asarray(getattr(part, f.name)) for f in fields(part)})
    return buffer.getvalue()


def partial_from_bytes(data: bytes) -> StatsPartial:
    """The StatsPartial `partial_bytes` wrote (no pickled objects are read)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        values = {f.name: arrays[f.name] for f in fields(StatsPartial)}
    return StatsPartial(**{**values, "as_of": int(values["as_of"])})
