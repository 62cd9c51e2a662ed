"""Writes one offer snapshot per store from an engine's ranking (members keyed by the kiosks' card hash)."""
from __future__ import annotations

import math
import os
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from central.errors import CentralError
from central.offers_build.ranking import Ranking
from kiosk.services.cards import CardHasher
from kiosk.services.loyalty import CatalogueOffer
from kiosk.services.offer_snapshot import (
    MemberOffer, SnapshotHeader, SnapshotMember, SnapshotOffer, SnapshotReason, WrittenSnapshot, snapshot_name,
    write_snapshot,
)
from kiosk.services.records import Offer, OfferReason

STAGED = ".staged"  # a written store's file until every store's is: kiosks pick up only *.offers.jsonl.gz


def _why(reason: OfferReason | None) -> SnapshotReason | None:
    if reason is None:
        return None
    return SnapshotReason.model_construct(kind=reason.kind.value, days=reason.days, anchor=reason.anchor,
                                          anchor_offer=reason.anchor_offer)


def _member_offer(offer: Offer) -> MemberOffer:
    """Built without validation (millions of lines), so the one value an engine computes is checked here: a
    kiosk refuses a whole snapshot with a NaN or infinite score, and the store would keep yesterday's offers."""
    if not math.isfinite(offer.score):
        raise CentralError(f"offers-build: the engine scored offer {offer.offer_id} {offer.score} (not a finite "
                           "number); nothing was written")
    return MemberOffer.model_construct(offer_id=offer.offer_id, rule=str(offer.rule), reason=offer.reason,
                                       score=offer.score, why=_why(offer.why))


def write_store_snapshots(
    out_dir: Path,
    ranking: Ranking,
    catalogue: tuple[CatalogueOffer, ...],
    hasher: CardHasher,
    built_at: datetime,
    built_for: date,
    engine: str,
    all_members: bool,
) -> list[WrittenSnapshot]:
    """Per store: the offers of its members (or of every member with `all_members`), each file atomic.

    All or nothing across stores: every store's file is first written under a name kiosks do not pick up
    (`.<name>.staged`), and only when all are written are they renamed to their names, so a build that fails or
    is interrupted half way (full disk, --out a file, no permission, Ctrl-C) leaves no store's kiosks on a build
    the other stores never get; what this run wrote is removed again. A full disk is one line (CentralError).
    """
    staged: list[WrittenSnapshot] = []
    delivered: list[WrittenSnapshot] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_all(out_dir, ranking, catalogue, hasher, built_at, built_for, engine, all_members, staged)
        for snap in staged:
            final = snap.path.with_name(snap.path.name[1:-len(STAGED)])
            os.replace(snap.path, final)
            delivered.append(replace(snap, path=final))
    except BaseException as exc:
        for snap in staged + delivered:
            snap.path.unlink(missing_ok=True)
        if not isinstance(exc, OSError):
            raise
        where = f" {exc.filename}" if exc.filename else ""
        raise CentralError(f"offers-build: {out_dir}: cannot write the snapshots:{where}: {exc.strerror or exc}; "
                           "nothing delivered") from None
    return delivered


def _write_all(out_dir: Path, ranking: Ranking, catalogue: tuple[CatalogueOffer, ...], hasher: CardHasher,
               built_at: datetime, built_for: date, engine: str, all_members: bool,
               written: list[WrittenSnapshot]) -> None:
    """Writes each store's snapshot under its staged name, appending it to `written` as soon as it is there."""
    keys = {card: hasher(card) for card in ranking.offers}
    by_id = {item.offer_id: item for item in catalogue}
    categories: dict[str, str] = {}
    members: dict[str, SnapshotMember] = {}
    for card, offers in ranking.offers.items():
        for offer in offers:
            categories.setdefault(offer.offer_id, offer.category)
        members[card] = SnapshotMember.model_construct(
            kind="member", member=keys[card],
            offers=tuple(_member_offer(o) for o in offers),
        )
    everyone = tuple(sorted(members, key=keys.__getitem__))
    for store_id in sorted(ranking.store_members):
        cards = everyone if all_members else tuple(
            sorted((c for c in ranking.store_members[store_id] if c in members), key=keys.__getitem__))
        used = sorted({i for c in cards for o in members[c].offers
                       for i in (o.offer_id, o.why.anchor_offer if o.why else None) if i is not None})
        offers = [
            SnapshotOffer(
                offer_id=i, title=by_id[i].title, titles=by_id[i].titles, icon=by_id[i].icon,
                price_cents=by_id[i].price_cents, discount_percent=by_id[i].discount_percent,
                valid_from=by_id[i].valid_from, valid_until=by_id[i].valid_until,
                category=categories.get(i, by_id[i].category or ""), regular_price_cents=by_id[i].regular_price_cents,
            )
            for i in used
        ]
        header = SnapshotHeader(store_id=store_id, built_at=built_at, built_for=built_for, engine=engine,
                                members=len(cards), offers=len(offers))
        written.append(write_snapshot(out_dir / f".{snapshot_name(store_id, built_at)}{STAGED}", header, offers,
                                      (members[c] for c in cards)))
