"""Opens the loyalty store named by a config (seeding demo data when asked) with its offer engine."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from kiosk.config import KioskConfig
from kiosk.services.cards import CardHasher
from kiosk.services.loyalty import LoyaltyError, LoyaltyStore
from kiosk.services.no_loyalty import NoLoyaltyStore, NoOffers
from kiosk.services.offer_ranker import PickRules
from kiosk.services.offers import OfferEngine
from kiosk.services.ranked_engine import RankedOfferEngine
from kiosk.services.snapshot_offers import SnapshotOfferSource, SnapshotWatcher
from kiosk.services.snapshot_store import SnapshotError, SnapshotStore
from kiosk.status import LoyaltyStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shop:
    """The session's loyalty side: `store` implements CustomerLookup, `engine` OfferSource; `status` says
    whether the store opened as usual, read-only, or not at all (then both are stand-ins)."""

    store: LoyaltyStore | NoLoyaltyStore
    engine: RankedOfferEngine | OfferEngine | SnapshotOfferSource | NoOffers
    snapshots: SnapshotStore | None = None  # the chain's offer snapshots, when this kiosk has or watches any
    watcher: SnapshotWatcher | None = None
    status: LoyaltyStatus = LoyaltyStatus.OK

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

    A store that cannot be opened (damaged by a power cut, not a database, no permission) never stops the
    kiosk: it is opened read-only if that works, else the kiosk runs without it; the file is never moved or
    changed (it is the shop's own data), and the log says once what to do. Learning reads every purchase
    (about 1-2 s for a million), so call this off the UI thread.
    """
    started = time.perf_counter()
    path = config.loyalty_db_path
    status = LoyaltyStatus.OK
    try:
        store, engine = _open_store(config, read_only=False)
    except LoyaltyError as exc:
        try:
            store, engine = _open_store(config, read_only=True)
        except LoyaltyError:
            logger.error("[loyalty] db_path: %s; the kiosk runs without it: every card shows 'card not recognised',"
                         " mood, feedback and telemetry go on. Restore the file from a backup, or move it away and run"
                         " `moodkiosk import-loyalty` again with all the CSVs, then restart the kiosk", exc)
            return Shop(NoLoyaltyStore(path), NoOffers(), status=LoyaltyStatus.UNAVAILABLE)
        logger.error("[loyalty] db_path: %s; opened read-only: cards and offers work, old purchases are not pruned"
                     " and the offer model is not cached. Make the file writable for the kiosk's user, or run"
                     " `moodkiosk import-loyalty` again, then restart the kiosk", exc)
        status = LoyaltyStatus.READ_ONLY
    snapshots, watcher = _open_snapshots(config)
    counts = store.counts()
    logger.info(
        "Loyalty store %s ready in %.2f s: %d customers, %d purchases, %d offers",
        store.path, time.perf_counter() - started, counts["customers"], counts["purchases"], counts["offers"],
    )
    if snapshots is None:
        return Shop(store, engine, status=status)
    source = SnapshotOfferSource(engine, snapshots, store.card_id_of, hasher)
    return Shop(store, source, snapshots, watcher, status)


def _open_store(config: KioskConfig, read_only: bool) -> tuple[LoyaltyStore, RankedOfferEngine | OfferEngine]:
    """The store (seeded and pruned unless `read_only`) and its offer engine; closed again on LoyaltyError."""
    store = LoyaltyStore(config.loyalty_db_path, read_only=read_only)
    try:
        if not read_only:
            if config.loyalty.seed_demo_data:
                from kiosk.demo_data.generate import seed_demo

                seed_demo(store, config.data_dir / "demo_csv")
            from kiosk.services.member_data import prune_purchases

            prune_purchases(store, config.loyalty.purchase_retention_days)  # before learning: old ones never count
        return store, make_engine(store, config)
    except LoyaltyError:
        store.close()
        raise


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
