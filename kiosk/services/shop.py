"""Opens the loyalty store named by a config (seeding demo data when asked) with its offer engine."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from kiosk.config import KioskConfig
from kiosk.services.cards import CardHasher
from kiosk.services.loyalty import LoyaltyError, LoyaltyStore
from kiosk.services.offer_ranker import PickRules
from kiosk.services.offers import OfferEngine
from kiosk.services.ranked_engine import RankedOfferEngine
from kiosk.services.snapshot_offers import SnapshotOfferSource, SnapshotWatcher
from kiosk.services.snapshot_store import SnapshotError, SnapshotStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shop:
    """The session's loyalty side: `store` implements CustomerLookup, `engine` OfferSource."""

    store: LoyaltyStore
    engine: RankedOfferEngine | OfferEngine | SnapshotOfferSource
    snapshots: SnapshotStore | None = None  # the chain's offer snapshots, when this kiosk has or watches any
    watcher: SnapshotWatcher | None = None

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.snapshots is not None:
            self.snapshots.close()
        self.store.close()


def make_engine(store: LoyaltyStore, config: KioskConfig) -> RankedOfferEngine | OfferEngine:
    """The offer engine `[offers] engine` names, with the config's product rules; learns or loads its model."""
    if config.offers.engine == "rules":
        return OfferEngine(store, min_offers=config.offers.min_offers)
    rules = PickRules(config.offers.category_cap, config.offers.discovery_share)
    return RankedOfferEngine(store, min_offers=config.offers.min_offers, rules=rules)


def open_shop(config: KioskConfig, hasher: CardHasher) -> Shop:
    """Open (and with `loyalty.seed_demo_data`, fill) the store and learn the offer model; `hasher` keys the
    offer snapshots' card hashes (the app loads the key once and passes it to the state machine too).

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
    snapshots, watcher = _open_snapshots(config)
    counts = store.counts()
    logger.info(
        "Loyalty store %s ready in %.2f s: %d customers, %d purchases, %d offers",
        store.path, time.perf_counter() - started, counts["customers"], counts["purchases"], counts["offers"],
    )
    if snapshots is None:
        return Shop(store, engine)
    source = SnapshotOfferSource(engine, snapshots, store.card_id_of, hasher)
    return Shop(store, source, snapshots, watcher)


def _open_snapshots(config: KioskConfig) -> tuple[SnapshotStore | None, SnapshotWatcher | None]:
    """The snapshot store when one was imported or a snapshot directory is set (then checked now and watched)."""
    directory = config.offers.snapshot_dir
    if directory is None and not config.offer_snapshots_path.exists():
        return None, None
    try:
        snapshots = SnapshotStore(config.offer_snapshots_path, config.store_id)
    except SnapshotError as exc:  # the chain's snapshots only improve offers: never a kiosk that will not start
        logger.error("Offer snapshots off, the local engine serves every member: %s", exc)
        return None, None
    if directory is None:
        return snapshots, None
    watcher = SnapshotWatcher(snapshots, directory, config.offers.snapshot_check_s)
    watcher.check_now()
    watcher.start()
    return snapshots, watcher
