"""The evaluation protocols of ../shared/data/README_retail.md: input baskets, evaluated customers, targets."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from kiosk.services.offer_training import Snapshot, next_basket_snapshot
from kiosk.services.purchase_log import PurchaseLog

SPLIT_DATE = date(2001, 2, 1)
VALIDATION_SPLIT_DATE = date(2001, 1, 1)
# more snapshots of the input period to learn the ranker from (targets all before SPLIT_DATE)
TRAINING_SPLIT_DATES = (date(2000, 12, 15), VALIDATION_SPLIT_DATE, date(2001, 1, 15))
TRAINING_DROPPED_BASKETS = (1, 2, 3)
# snapshots for choosing the ranker on the validation split (last-basket); global-split: CUTOFF_TRAINING_DAYS
VALIDATION_TRAINING_DROPPED_BASKETS = (2, 3)
# Several validation cut-offs inside the input period, chosen by their MEAN: the 2001-01-01 target month holds
# Chinese New Year (popularity scores a quarter of its test-month figure there), so one cut-off is a poor proxy.
VALIDATION_CUTOFFS = (date(2000, 12, 1), date(2000, 12, 15), VALIDATION_SPLIT_DATE, date(2001, 1, 15))
# each cut-off's learning snapshots: these many days before it, targets before it (2001-01-01: 12-01, 12-15)
CUTOFF_TRAINING_DAYS = (31, 17)


class Protocol(enum.Enum):
    GLOBAL_SPLIT = "global-split"
    LAST_BASKET = "last-basket"


@dataclass(frozen=True)
class Split:
    """What an engine may learn from (`history`), whom it is scored on, as of which day, and the truth.

    `customers` (n,) are the evaluated customer codes, `as_of` (n,) the day each one's offers are made on,
    and the target of customers[i] is `target_product[target_start[i]:target_start[i+1]]`.
    """

    name: str
    history: PurchaseLog
    customers: np.ndarray
    as_of: np.ndarray
    target_start: np.ndarray
    target_product: np.ndarray

    def target(self, i: int) -> np.ndarray:
        return self.target_product[self.target_start[i]:self.target_start[i + 1]]


def _targets(log: PurchaseLog, target_baskets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR (starts, products) of the given baskets' distinct products, in the order of `target_baskets`."""
    rank = np.full(log.n_baskets, -1, dtype=np.int64)
    rank[target_baskets] = np.arange(len(target_baskets))
    lines = np.flatnonzero(rank[log.basket] >= 0)
    owner = rank[log.basket[lines]]
    order = np.argsort(owner, kind="stable")
    counts = np.bincount(owner, minlength=len(target_baskets))
    return np.r_[0, np.cumsum(counts)], log.product[lines][order]


def global_split(log: PurchaseLog, split: date, name: str, before: date | None = None) -> Split:
    """Input: baskets before `split`; evaluated: >= 2 input baskets and a basket on/after `split` (and before
    `before`, for the validation split); target: the first such basket."""
    snap = next_basket_snapshot(log, split.toordinal(), before.toordinal() if before else None)
    return Split(name, snap.history, snap.customers, snap.as_of, snap.target_start, snap.target_product)


def as_snapshot(split: Split) -> Snapshot:
    return Snapshot(split.history, split.customers, split.as_of, split.target_start, split.target_product)


def last_basket(log: PurchaseLog, name: str, drop_last: int = 0) -> Split:
    """Per customer: drop the last `drop_last` baskets, the last remaining one is the target, the rest (of
    every customer) is the input. Customers with fewer than 2 input baskets are not evaluated."""
    b_customer, b_day, _ = log.basket_table()
    counts = np.bincount(b_customer, minlength=log.n_customers)
    first_of = np.r_[0, np.cumsum(counts)[:-1]]
    position = np.arange(len(b_customer)) - first_of[b_customer]
    keep_count = counts - drop_last  # baskets left per customer
    is_target = position == keep_count[b_customer] - 1
    is_input = position < keep_count[b_customer] - 1
    target_baskets = np.flatnonzero(is_target & (keep_count[b_customer] >= 3))
    starts, products = _targets(log, target_baskets)
    history = log.select(is_input[log.basket])
    return Split(name, history, b_customer[target_baskets], b_day[target_baskets], starts, products)


def make_split(log: PurchaseLog, protocol: Protocol, validation: bool) -> Split:
    """The test split of `protocol`, or its validation split (for tuning; never scored as a result)."""
    if protocol is Protocol.GLOBAL_SPLIT:
        if validation:
            return global_split(log, VALIDATION_SPLIT_DATE, "validation", before=SPLIT_DATE)
        return global_split(log, SPLIT_DATE, "test")
    return last_basket(log, "validation" if validation else "test", drop_last=1 if validation else 0)


def training_splits(log: PurchaseLog, protocol: Protocol) -> list[Split]:
    """Snapshots of the input period the ranker learns from: the validation split and its neighbours in
    time (global-split: split dates 2000-12-15, 2001-01-01, 2001-01-15, targets before 2001-02-01;
    last-basket: the 1st, 2nd and 3rd order before the last). No test target is in any of them."""
    if protocol is Protocol.GLOBAL_SPLIT:
        return [global_split(log, when, f"training {when.isoformat()}", before=SPLIT_DATE)
                for when in TRAINING_SPLIT_DATES]
    return [last_basket(log, f"training -{dropped}", drop_last=dropped) for dropped in TRAINING_DROPPED_BASKETS]


def validation_training_splits(log: PurchaseLog, protocol: Protocol) -> list[Split]:
    """Snapshots to learn on when choosing the ranker on the validation split: none of their targets is in
    (or after) the validation target (global-split: split dates 2000-12-01 and 2000-12-15, targets before
    2001-01-01; last-basket: the 2nd and 3rd order before the last)."""
    if protocol is Protocol.GLOBAL_SPLIT:
        return cutoff_training_splits(log, VALIDATION_SPLIT_DATE)
    return [last_basket(log, f"training -{dropped}", drop_last=dropped) for dropped in VALIDATION_TRAINING_DROPPED_BASKETS]


def cutoff_training_splits(log: PurchaseLog, cutoff: date) -> list[Split]:
    """global-split snapshots to learn on for a validation cut-off: at cutoff - CUTOFF_TRAINING_DAYS, targets
    before the cut-off."""
    return [global_split(log, when, f"training {when.isoformat()}", before=cutoff)
            for when in (cutoff - timedelta(days=days) for days in CUTOFF_TRAINING_DAYS)]


@dataclass(frozen=True)
class ValidationFold:
    """One validation cut-off: the split scored and the snapshots learned on (all their targets before it)."""

    cutoff: str
    validation: Split
    training: tuple[Split, ...]


def validation_folds(log: PurchaseLog, protocol: Protocol, cutoffs: tuple[date, ...] = VALIDATION_CUTOFFS
                     ) -> list[ValidationFold]:
    """global-split: per cut-off c, the target is each member's first basket in [c, SPLIT_DATE), the input
    everything before c, and the ranker learns on snapshots at c - CUTOFF_TRAINING_DAYS with targets before c.
    last-basket has one fold (the order before the last; cut-offs do not apply). Snapshots without members
    are left out; a fold without a validation member or training snapshot is kept (the caller says so)."""
    if protocol is not Protocol.GLOBAL_SPLIT:
        training = tuple(s for s in validation_training_splits(log, protocol) if len(s.customers))
        return [ValidationFold("order before the last", make_split(log, protocol, validation=True), training)]
    folds = []
    for cutoff in cutoffs:
        if cutoff >= SPLIT_DATE:
            raise ValueError(f"validation cut-off {cutoff.isoformat()} is not before the test split "
                             f"{SPLIT_DATE.isoformat()}")
        training = tuple(split for split in cutoff_training_splits(log, cutoff) if len(split.customers))
        folds.append(ValidationFold(cutoff.isoformat(), global_split(log, cutoff, f"validation {cutoff.isoformat()}",
                                                                     before=SPLIT_DATE), training))
    return folds
