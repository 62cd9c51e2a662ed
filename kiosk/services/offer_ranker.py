"""The learned offer ranker: logistic regression over CandidateTable features, plus the product rules
that turn scores into a member's offer list (category cap, discovery slots).

Why logistic regression: its learned state is a few dozen numbers (cached as JSON in the store), scoring a
member is one matrix-vector product (microseconds), and learning it on a store's history takes seconds with
numpy alone, so the kiosk needs no extra library. Features enter twice, once for products the member has
bought and once for products new to them, so repeat and discovery candidates each get their own slopes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiosk.services.offer_features import FEATURES, CandidateTable

NEVER_BOUGHT = FEATURES.index("never_bought")
L2 = 1.0
Z_LIMIT = 8.0
NEWTON_STEPS = 25


@dataclass(frozen=True)
class RankerWeights:
    """Standardisation and coefficients of the design matrix; `features` names the inputs they expect."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def to_json(self) -> dict[str, object]:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> "RankerWeights":
        weights = cls(tuple(str(f) for f in data["features"]), tuple(float(v) for v in data["mean"]),
                      tuple(float(v) for v in data["scale"]), tuple(float(v) for v in data["coef"]),
                      float(data["intercept"]))
        if weights.features != FEATURES or len(weights.coef) != 2 * len(FEATURES):
            raise ValueError("ranker weights were learned for other features")
        return weights


def _design(features: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    z = np.clip((features - mean) / scale, -Z_LIMIT, Z_LIMIT)  # a value far outside training stays bounded
    new = features[:, NEVER_BOUGHT:NEVER_BOUGHT + 1]
    return np.hstack([z * (1 - new), z * new])


def fit(table: CandidateTable, labels: np.ndarray, l2: float = L2, sample_weight: np.ndarray | None = None
        ) -> RankerWeights:
    """L2-regularised logistic regression by Newton's method (labels: 1 = bought in the target basket).

    `sample_weight` per row (e.g. 1 / target size, so that the loss follows recall, a per-member mean)."""
    x_raw = table.features
    mean = x_raw.mean(axis=0)
    scale = x_raw.std(axis=0)
    scale[scale < 1e-6] = 1.0  # a feature (nearly) constant in training: left unscaled
    x = np.hstack([_design(x_raw, mean, scale), np.ones((len(x_raw), 1))])
    y = labels.astype(float)
    rows = np.ones(len(y)) if sample_weight is None else sample_weight * (len(y) / sample_weight.sum())
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (rows * (p - y)) + penalty * w
        hessian = (x * (rows * p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return RankerWeights(FEATURES, tuple(mean.tolist()), tuple(scale.tolist()), tuple(w[:-1].tolist()), float(w[-1]))


def score(table: CandidateTable, weights: RankerWeights) -> np.ndarray:
    """Log-odds that each candidate is in the member's next basket.

    Each row's sum is computed on its own (not as one matrix product, whose BLAS kernel may round a row
    differently depending on how many rows come with it), so a member scores the same alone on a kiosk and
    in a batch of thousands in the central build."""
    x = _design(table.features, np.asarray(weights.mean), np.asarray(weights.scale))
    return np.einsum("ij,j->i", x, np.asarray(weights.coef)) + weights.intercept


@dataclass(frozen=True)
class PickRules:
    """Product rules on top of the ranking: at most `category_cap` offers per category and at least
    `discovery_share` of the slots for products new to the member (when the ranking has such candidates)."""

    category_cap: int = 2
    discovery_share: float = 0.0


def pick(
    table: CandidateTable, scores: np.ndarray, product_category: np.ndarray, k: int, rules: PickRules
) -> np.ndarray:
    """(n_members, k) product codes, best first, -1 where a member has fewer usable candidates."""
    members = len(table.member_start) - 1
    out = np.full((members, k), -1, dtype=np.int64)
    order = np.lexsort((table.product, -scores, table.member))
    product, repeat = table.product[order], table.repeat[order]
    categories = product_category[product]
    discovery = int(np.ceil(rules.discovery_share * k - 1e-9))
    for i in range(members):
        lo, hi = table.member_start[i], table.member_start[i + 1]
        chosen = choose(categories[lo:hi], repeat[lo:hi], k, rules.category_cap, discovery)
        out[i, :len(chosen)] = product[lo:hi][chosen]
    return out


def choose(categories: np.ndarray, repeat: np.ndarray, k: int, cap: int, discovery: int) -> list[int]:
    """Indices of up to k items of a ranked list (best first) under the category cap (0 = none; category
    -1 = uncategorised, never capped) with at least `discovery` items that are not repeats, when there are."""
    per_category: dict[int, int] = {}
    chosen: list[int] = []
    new_chosen = 0
    new_left = int((~repeat).sum())
    for index, (category, is_repeat) in enumerate(zip(categories.tolist(), repeat.tolist())):
        if len(chosen) >= k:
            break
        if not is_repeat:
            new_left -= 1
        elif new_left > 0 and discovery - new_chosen >= k - len(chosen):
            continue  # the remaining slots are kept for discovery
        if category >= 0 and cap > 0 and per_category.get(category, 0) >= cap:
            continue
        per_category[category] = per_category.get(category, 0) + 1
        chosen.append(index)
        new_chosen += not is_repeat
    return chosen
