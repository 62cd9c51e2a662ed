"""The result every engine of the offer build returns (the snapshot writer's input)."""
from __future__ import annotations

from dataclasses import dataclass

from kiosk.services.offer_ranking_model import RankingModel
from kiosk.services.records import Offer


@dataclass(frozen=True)
class Ranking:
    """An engine's result: each member's offers (by card number) and each store's members."""

    offers: dict[str, tuple[Offer, ...]]
    store_members: dict[str, tuple[str, ...]]
    lines: int
    skipped_returns: int
    learn_s: float
    rank_s: float
    model: RankingModel | None = None  # what the engine learned (the tests hold the two engines to the same)
