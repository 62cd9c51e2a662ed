"""Opens the loyalty store named by a config (seeding demo data when asked) with its offer engine."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from kiosk.config import KioskConfig
from kiosk.services.loyalty import LoyaltyError, LoyaltyStore
from kiosk.services.offer_ranker import PickRules
from kiosk.services.offers import OfferEngine
from kiosk.services.ranked_engine import RankedOfferEngine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shop:
    """The session's loyalty side: `store` implements CustomerLookup, `engine` OfferSource."""

    store: LoyaltyStore
    engine: RankedOfferEngine | OfferEngine

    def close(self) -> None:
        self.store.close()


def make_engine(store: LoyaltyStore, config: KioskConfig) -> RankedOfferEngine | OfferEngine:
    """The offer engine `[offers] engine` names, with the config's product rules; learns or loads its model."""
    if config.offers.engine == "rules":
        return OfferEngine(store, min_offers=config.offers.min_offers)
    rules = PickRules(config.offers.category_cap, config.offers.discovery_share)
    return RankedOfferEngine(store, min_offers=config.offers.min_offers, rules=rules)


def open_shop(config: KioskConfig) -> Shop:
    """Open (and with `loyalty.seed_demo_data`, fill) the store and learn the offer model.

    Learning reads every purchase (about 1-2 s for a million), so call this off the UI thread.
    """
    started = time.perf_counter()
    try:
        store = LoyaltyStore(config.loyalty_db_path)
    except LoyaltyError as exc:  # name the config key, so IT knows what to fix
        raise LoyaltyError(f"[loyalty] db_path: {exc}") from exc
    if config.loyalty.seed_demo_data:
        from kiosk.demo_data.generate import seed_demo

        seed_demo(store, config.data_dir / "demo_csv")
    from kiosk.services.member_data import prune_purchases

    prune_purchases(store, config.loyalty.purchase_retention_days)  # before learning: old purchases never count
    engine = make_engine(store, config)
    counts = store.counts()
    logger.info(
        "Loyalty store %s ready in %.2f s: %d customers, %d purchases, %d offers",
        store.path, time.perf_counter() - started, counts["customers"], counts["purchases"], counts["offers"],
    )
    return Shop(store, engine)
