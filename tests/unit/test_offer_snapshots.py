"""Offer snapshots on the kiosk: the file format's checks, atomic import with rollback, the directory watcher,
and ranking from the snapshot with the local engine as fallback (real SQLite files, the real demo store)."""
from __future__ import annotations

import gzip
import logging
import os
import tracemalloc
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiosk.cli import main as cli_main
from kiosk.config import parse_config
from kiosk.services.cards import CardHasher
from kiosk.services.offer_snapshot import (
    MemberOffer, SnapshotError, SnapshotHeader, SnapshotMember, SnapshotOffer, read_snapshot, snapshot_name,
    write_snapshot,
)
from kiosk.services.shop import open_shop
from kiosk.services.snapshot_offers import SnapshotOfferSource, import_newer
from kiosk.services.snapshot_store import SnapshotStore

KEY = "snapshot-test-key-0123456789abcdef"
TODAY = date.today()
ANNA, DAVID = "2900000000018", "2900000000049"  # demo customers (kiosk/demo_data)
T0 = datetime(2026, 1, 1, 3, 0, tzinfo=timezone.utc)
hasher = CardHasher(KEY.encode())


def catalogue_item(offer_id: str, days_valid: int = 10, **extra: object) -> SnapshotOffer:
    return SnapshotOffer(
        offer_id=offer_id, title=f"Title {offer_id}", titles=(("de", f"Titel {offer_id}"),), icon="coffee",
        price_cents=199, discount_percent=None, valid_from=TODAY - timedelta(days=1),
        valid_until=TODAY + timedelta(days=days_valid), category="coffee", **extra,
    )


def make_snapshot(
    folder: Path, store_id: str = "demo-store", built_at: datetime = T0, members: dict[str, list[str]] | None = None,
    offers: list[SnapshotOffer] | None = None,
) -> Path:
    members = {ANNA: ["s-1", "s-2"]} if members is None else members
    offers = offers or [catalogue_item("s-1"), catalogue_item("s-2"), catalogue_item("s-old", days_valid=-3)]
    lines = [
        SnapshotMember(member=hasher(card), offers=tuple(
            MemberOffer(offer_id=o, rule="repurchase", reason=f"central: {o}", score=2.5 - n) for n, o in enumerate(ids)))
        for card, ids in members.items()
    ]
    header = SnapshotHeader(store_id=store_id, built_at=built_at, built_for=TODAY, engine="embedded",
                            members=len(lines), offers=len(offers))
    folder.mkdir(parents=True, exist_ok=True)
    return write_snapshot(folder / snapshot_name(store_id, built_at), header, offers, lines).path


def rewrite(path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    """Decompress, change the text, compress again (the checksum line is left as it was)."""
    text = gzip.decompress(path.read_bytes()).decode()
    path.write_bytes(gzip.compress(change(text).encode()))
    return path


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MOODKIOSK_CARD_HASH_KEY", KEY)

    def make(**offers: object):  # type: ignore[no-untyped-def]
        return parse_config({"data_dir": str(tmp_path / "data"), "loyalty": {"seed_demo_data": True},
                             "camera": {"enabled": False}, "offers": offers}, "test config")

    return make


# ----- the file format -------------------------------------------------------------------------------
def test_snapshot_round_trip_and_no_clear_card_numbers(tmp_path: Path) -> None:
    path = make_snapshot(tmp_path)
    lines = list(read_snapshot(path))
    assert [type(line).__name__ for line in lines] == [
        "SnapshotHeader", "SnapshotOffer", "SnapshotOffer", "SnapshotOffer", "SnapshotMember", "SnapshotEnd"]
    assert ANNA not in gzip.decompress(path.read_bytes()).decode()
    assert lines[4].member == hasher(ANNA)
    with pytest.raises(ValueError):
        SnapshotMember(member=ANNA, offers=())  # a clear card number is not a member key


@pytest.mark.parametrize("damage, message", [
    (lambda t: t.replace("central: s-1", "central: s-X"), "bad checksum"),
    (lambda t: t.rsplit("\n", 2)[0] + "\n", "cut short"),
    (lambda t: t.replace('"repurchase"', '"whatever"', 1), "line 5: offers.0.rule"),
    (lambda t: "not json\n" + t, "line 1"),
    # JSON's NaN reached SQLite as NULL: refused as 'duplicate member or offer (NOT NULL constraint ...)', no line
    (lambda t: t.replace(",2.5,", ",NaN,", 1), "line 5: offers.0.score: .*finite"),
    (lambda t: t.replace(",2.5,", ",Infinity,", 1), "line 5: offers.0.score: .*finite"),
])
def test_damaged_snapshot_is_refused_with_file_and_line(tmp_path: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    path = rewrite(make_snapshot(tmp_path), damage)
    with pytest.raises(SnapshotError, match=message):
        list(read_snapshot(path))


def test_a_gzip_bomb_of_one_endless_line_a_device_and_a_fifo_are_refused(tmp_path: Path) -> None:
    """100 MB of zeros without a line break, 100 KB compressed: refused at the line limit, never held whole."""
    bomb = tmp_path / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        for _ in range(100):
            out.write(b"0" * (1 << 20))
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(SnapshotError, match="line 1: longer than 65536 bytes"):
            list(read_snapshot(bomb))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak / 2**20:.0f} MiB held for one line"
    with pytest.raises(SnapshotError, match="not a regular file"):
        list(read_snapshot(Path("/dev/zero")))
    fifo = tmp_path / "fifo.jsonl.gz"
    os.mkfifo(fifo)
    with pytest.raises(SnapshotError, match="not a regular file"):
        list(read_snapshot(fifo))


def test_member_offer_missing_from_catalogue_is_refused(tmp_path: Path) -> None:
    path = make_snapshot(tmp_path, members={ANNA: ["s-1", "nope"]})
    with pytest.raises(SnapshotError, match="'nope' is not in the snapshot"):
        list(read_snapshot(path))


# ----- import, rollback, ranking ---------------------------------------------------------------------------
def test_import_rank_fallback_and_rollback(tmp_path: Path, config) -> None:  # type: ignore[no-untyped-def]
    cfg = config()
    first = make_snapshot(tmp_path / "in", built_at=T0)
    second = make_snapshot(tmp_path / "in", built_at=T0 + timedelta(hours=1), members={ANNA: ["s-2"]})
    with SnapshotStore(cfg.offer_snapshots_path, cfg.store_id) as store:
        store.import_file(first)
    shop = open_shop(cfg, CardHasher(cfg.card_hash_key()))
    try:
        assert isinstance(shop.engine, SnapshotOfferSource)
        anna = shop.store.find_customer(ANNA)
        david = shop.store.find_customer(DAVID)
        offers = shop.engine.offers_for(anna.customer_id, TODAY, 4, "de")
        assert [o.offer_id for o in offers] == ["s-1", "s-2"]
        assert offers[0].title == "Titel s-1" and offers[0].rule == "repurchase"
        assert offers[0].reason == "snapshot: central: s-1"
        local = shop.engine.engine.offers_for(david.customer_id, TODAY, 4)
        assert shop.engine.offers_for(david.customer_id, TODAY, 4) == local  # not covered: the local engine
        assert local and not any(o.reason.startswith("snapshot:") for o in local)

        shop.snapshots.import_file(second)
        assert [o.offer_id for o in shop.engine.offers_for(anna.customer_id, TODAY, 4)] == ["s-2"]
        assert shop.snapshots.info("previous").built_at == T0
        shop.snapshots.rollback()
        assert [o.offer_id for o in shop.engine.offers_for(anna.customer_id, TODAY, 4)] == ["s-1", "s-2"]
        # an offer no longer valid is not shown; a member whose offers all expired gets the local engine
        assert shop.snapshots.offers_for(hasher(ANNA), TODAY + timedelta(days=30), 4) is None
    finally:
        shop.close()


def test_failed_imports_leave_the_previous_offers(tmp_path: Path, config) -> None:  # type: ignore[no-untyped-def]
    cfg = config()
    good = make_snapshot(tmp_path / "a", built_at=T0)
    later = T0 + timedelta(hours=2)
    other_store = make_snapshot(tmp_path / "b", store_id="other-store", built_at=later)
    damaged = rewrite(make_snapshot(tmp_path / "c", built_at=later, members={ANNA: ["s-2"]}),
                      lambda t: t.replace("central: s-2", "central: s-9"))
    with SnapshotStore(cfg.offer_snapshots_path, cfg.store_id) as store:
        store.import_file(good)
        for bad, message in ((other_store, "snapshot for store 'other-store'"), (damaged, "bad checksum"),
                             (good, "not newer")):
            with pytest.raises(SnapshotError, match=message):
                store.import_file(bad)
            assert store.info().built_at == T0
            assert [o.offer_id for o in store.offers_for(hasher(ANNA), TODAY, 5)] == ["s-1", "s-2"]
        assert store.info("previous") is None
        with pytest.raises(SnapshotError, match="no previous snapshot"):
            store.rollback()


def test_import_offers_command(tmp_path: Path, config, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    cfg = config()
    config_file = tmp_path / "kiosk.toml"
    config_file.write_text(f'data_dir = "{cfg.data_dir}"\n[camera]\nenabled = false\n')
    first = make_snapshot(tmp_path / "in", built_at=T0)
    second = make_snapshot(tmp_path / "in", built_at=T0 + timedelta(days=1))
    assert cli_main(["import-offers", str(first), "--config", str(config_file)]) == 0
    assert "imported: store demo-store" in capsys.readouterr().out
    damaged = rewrite(second, lambda t: t.replace("central: s-1", "central: s-3"))
    assert cli_main(["import-offers", str(damaged), "--config", str(config_file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad checksum" in err[0] and "Traceback" not in err[0]
    assert cli_main(["import-offers", str(tmp_path / "missing.offers.jsonl.gz"), "--config", str(config_file)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli_main(["import-offers", "--rollback", "--config", str(config_file)]) == 2
    assert "no previous snapshot" in capsys.readouterr().err
    with SnapshotStore(cfg.offer_snapshots_path, cfg.store_id) as store:
        assert store.info().built_at == T0


def test_snapshot_dir_is_checked_at_start_and_newer_files_imported(tmp_path: Path, config, caplog) -> None:  # type: ignore[no-untyped-def]
    drop = tmp_path / "drop"
    make_snapshot(drop, built_at=T0)
    make_snapshot(drop, store_id="other-store", built_at=T0 + timedelta(days=5))  # not ours: ignored
    cfg = config(snapshot_dir=str(drop), snapshot_check_s=3600)
    shop = open_shop(cfg, CardHasher(cfg.card_hash_key()))
    try:
        assert shop.snapshots.info().built_at == T0
        assert import_newer(shop.snapshots, drop) is None  # nothing newer
        newer = T0 + timedelta(days=1)
        rewrite(make_snapshot(drop, built_at=newer), lambda t: t.replace("central: s-1", "central: s-7"))
        with caplog.at_level(logging.ERROR):
            assert shop.watcher.check_now() is None  # damaged: logged, previous offers kept
        assert "keeping the previous offers" in caplog.text
        assert shop.snapshots.info().built_at == T0
        make_snapshot(drop, built_at=newer + timedelta(hours=1), members={ANNA: ["s-2"]})
        assert shop.watcher.check_now().built_at == newer + timedelta(hours=1)
        anna = shop.store.find_customer(ANNA)
        assert [o.offer_id for o in shop.engine.offers_for(anna.customer_id, TODAY, 4)] == ["s-2"]
    finally:
        shop.close()


def test_a_format_1_snapshot_still_imports_into_a_store_made_before_format_2(tmp_path: Path) -> None:
    """Kiosks already hold format-1 snapshots in stores without the format-2 columns: both keep working."""
    import hashlib
    import json
    import sqlite3

    old_store = tmp_path / "old.sqlite"
    with sqlite3.connect(old_store) as db:  # the tables as format 1 made them
        db.executescript(
            "CREATE TABLE snapshot_offers (slot TEXT NOT NULL, offer_id TEXT NOT NULL, title TEXT NOT NULL,"
            " titles TEXT NOT NULL, icon TEXT NOT NULL, price_cents INTEGER, discount_percent INTEGER,"
            " valid_from INTEGER NOT NULL, valid_until INTEGER NOT NULL, category TEXT NOT NULL,"
            " PRIMARY KEY (slot, offer_id));"
            "CREATE TABLE snapshot_member_offers (slot TEXT NOT NULL, member TEXT NOT NULL, rank INTEGER NOT NULL,"
            " offer_id TEXT NOT NULL, rule TEXT NOT NULL, reason TEXT NOT NULL, score REAL NOT NULL,"
            " PRIMARY KEY (slot, member, rank)) WITHOUT ROWID;")
    header = SnapshotHeader(store_id="demo-store", built_at=T0, built_for=TODAY, engine="embedded", members=1,
                            offers=1).model_dump(mode="json") | {"version": 1}
    lines = [header, catalogue_item("s-1").model_dump(mode="json", exclude={"regular_price_cents"}),
             {"kind": "member", "member": hasher(ANNA), "offers": [["s-1", "repurchase", "central: s-1", 1.5]]}]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    end = json.dumps({"kind": "end", "lines": 3, "sha256": hashlib.sha256(body).hexdigest()}) + "\n"
    path = tmp_path / snapshot_name("demo-store", T0)
    path.write_bytes(gzip.compress(body + end.encode()))
    with SnapshotStore(old_store, "demo-store") as store:
        store.import_file(path)
        (offer,) = store.offers_for(hasher(ANNA), TODAY, 3, "de")
    assert (offer.offer_id, offer.title, offer.rule, offer.why, offer.regular_price_cents) == \
        ("s-1", "Titel s-1", "repurchase", None, None)
    # a format-1 line with a fifth field, or a format-2 line with four, is refused
    path.write_bytes(gzip.compress(body.replace(b'1.5]]', b'1.5, null]]') + end.encode()))
    with pytest.raises(SnapshotError, match="line 3"):
        list(read_snapshot(path))


def test_a_store_scribbled_by_a_power_cut_is_set_aside_and_takes_the_next_snapshot(tmp_path: Path) -> None:
    """Before: a store file with a damaged page in the middle opened fine, then lookups and later imports failed
    ("database disk image is malformed") until someone deleted the file by hand."""
    members = {f"29000000{n:05d}": ["s-1", "s-2"] for n in range(3000)}
    first = make_snapshot(tmp_path / "in", members=members)
    path = tmp_path / "data" / "offer_snapshots.sqlite"
    with SnapshotStore(path, "demo-store") as store:
        store.import_file(first)
    data = path.read_bytes()
    assert len(data) > 100_000
    middle = len(data) // 2 // 4096 * 4096 + 200  # inside a page in the middle: the file still opens
    path.write_bytes(data[:middle] + b"\xab" * 400 + data[middle + 400:])
    with SnapshotStore(path, "demo-store") as store:
        assert store.info() is None  # a fresh store: the members fall back to the local engine
        assert store.import_file(make_snapshot(tmp_path / "in2", built_at=T0 + timedelta(hours=1))).members == 1
    assert len(list(path.parent.glob("offer_snapshots.sqlite.damaged-*"))) == 1


def test_duplicates_and_control_characters_are_refused_with_their_line(tmp_path: Path) -> None:
    """A snapshot is central's file, yet checked like an operator's CSV: the same offer or member twice, or the
    same offer twice in one member's list (shown twice on one screen), and a line break or escape in a text
    that reaches the screen and the log (a forged log line) are refused, naming the line."""
    header = dict(store_id="demo-store", built_at=T0, built_for=TODAY, engine="embedded")

    def member(card: str, *ids: str) -> SnapshotMember:
        return SnapshotMember(member=hasher(card), offers=tuple(
            MemberOffer(offer_id=o, rule="repurchase", reason="r", score=1.0) for o in ids))

    def write(name: str, offers: list[SnapshotOffer], members: list[SnapshotMember]) -> Path:
        return write_snapshot(tmp_path / name, SnapshotHeader(**header, members=len(members), offers=len(offers)),
                              offers, members).path

    one, two = catalogue_item("s-1"), catalogue_item("s-2")
    cases = [
        (write("offer.gz", [one, two, one], [member(ANNA, "s-1")]), "line 4: offer 's-1' appears twice"),
        (write("member.gz", [one, two], [member(ANNA, "s-1"), member(DAVID, "s-2"), member(ANNA, "s-2")]),
         "line 6: member .* appears twice"),
        (write("twice.gz", [one, two], [member(ANNA, "s-1", "s-2", "s-1")]), "line 4: offer 's-1' twice"),
        (rewrite(make_snapshot(tmp_path / "t"), lambda t: t.replace("Title s-1", "Title s-1\\nERROR forged", 1)),
         r"line 2: title: .*U\+000A"),
        (rewrite(make_snapshot(tmp_path / "r"), lambda t: t.replace("central: s-1", "central: \\u001b[2J", 1)),
         r"line 5: offers\.0\.reason: .*U\+001B"),
    ]
    for path, message in cases:
        with pytest.raises(SnapshotError, match=message):
            list(read_snapshot(path))


def test_a_damaged_newest_snapshot_does_not_hide_a_good_newer_one(tmp_path: Path) -> None:
    """The watcher only ever tried the newest file: with T1 current, a good T2 and a cut-short T3 in the folder,
    every check failed on T3 and the kiosk stayed on T1 (and re-read T3 every check) until a T4 came."""
    drop = tmp_path / "drop"
    make_snapshot(drop, built_at=T0)
    with SnapshotStore(tmp_path / "snapshots.sqlite", "demo-store") as store:
        assert import_newer(store, drop).built_at == T0
        make_snapshot(drop, built_at=T0 + timedelta(days=1), members={ANNA: ["s-2"]})
        cut = make_snapshot(drop, built_at=T0 + timedelta(days=2))
        data = gzip.decompress(cut.read_bytes())
        cut.write_bytes(gzip.compress(data[: len(data) // 2]))
        assert import_newer(store, drop).built_at == T0 + timedelta(days=1)
        assert [o.offer_id for o in store.offers_for(hasher(ANNA), TODAY, 4)] == ["s-2"]
        assert import_newer(store, drop) is None  # T3 stays refused; T2 stays current
        assert store.info().built_at == T0 + timedelta(days=1)


def test_a_card_lookup_does_not_wait_for_an_import(tmp_path: Path) -> None:
    """Lookups and imports shared one connection behind one lock, held for the whole import: a card scanned
    while the watcher imported a 50,000-member snapshot waited for all of it (1.9 s here, far longer on a kiosk
    with a chain's --all-members snapshot), on the thread that draws the screen. Lookups read the last
    committed snapshot on their own connection now (SQLite WAL)."""
    import threading
    import time

    members = {f"29{n:011d}": ["s-1"] for n in range(50_000)}
    big = make_snapshot(tmp_path / "drop", built_at=T0 + timedelta(days=1), members=members)
    with SnapshotStore(tmp_path / "snapshots.sqlite", "demo-store") as store:
        store.import_file(make_snapshot(tmp_path / "first", built_at=T0))
        done = threading.Event()
        importer = threading.Thread(target=lambda: (store.import_file(big), done.set()))
        importer.start()
        time.sleep(0.3)
        import_over_before = done.is_set()
        started = time.perf_counter()
        offers = store.offers_for(hasher(ANNA), TODAY, 4)
        waited = time.perf_counter() - started
        importer.join()
        assert not import_over_before, "the import was over before the lookup: make the snapshot bigger"
        assert waited < 0.5, f"the lookup waited {waited:.1f} s for the import"
        assert [o.offer_id for o in offers] == ["s-1", "s-2"]  # the snapshot committed before the import
        assert [o.offer_id for o in store.offers_for(hasher(ANNA), TODAY, 4)] == ["s-1"]  # then the new one


def test_a_snapshot_without_time_zone_or_from_the_future_does_not_block_the_next(tmp_path: Path) -> None:
    """A header time without a zone ("2026-01-03T03:00:00") passed the format; comparing it with the current
    snapshot's raised TypeError in every watcher check, so no snapshot of that folder was imported again. One
    built by a central clock years ahead (2099) was imported, and every correct snapshot after it was refused
    as 'not newer': the kiosk stayed on it for good."""
    drop = tmp_path / "drop"
    with SnapshotStore(tmp_path / "snapshots.sqlite", "demo-store") as store:
        store.import_file(make_snapshot(tmp_path / "first", built_at=T0))
        make_snapshot(drop, built_at=T0 + timedelta(days=1), members={ANNA: ["s-2"]})
        naive = T0 + timedelta(days=2)
        stamp = naive.strftime("%Y-%m-%dT%H:%M:%S")
        rewrite(make_snapshot(drop, built_at=naive), lambda text: text.replace(f'"{stamp}Z"', f'"{stamp}"', 1))
        future = make_snapshot(drop, built_at=datetime(2099, 1, 1, tzinfo=timezone.utc))
        assert import_newer(store, drop).built_at == T0 + timedelta(days=1)
        assert import_newer(store, drop) is None and store.info().built_at == T0 + timedelta(days=1)
        with pytest.raises(SnapshotError, match=r"built 2099-01-01T00:00:00\+00:00, more than a day ahead of this kiosk's clock"):
            store.import_file(future)


def test_a_refused_snapshot_is_not_read_and_logged_again_while_unchanged(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    """Before: the watcher read a refused newer file in full at every check (once a minute) and logged the same
    error each time. Now it is passed over while unchanged, tried again at once when it changes, and after the
    retry time (a snapshot "ahead of this kiosk's clock" may be fine once the clock is)."""
    from kiosk.services.snapshot_offers import RefusedSnapshots

    now = [0.0]
    refused = RefusedSnapshots(retry_s=3600, clock=lambda: now[0])
    drop = tmp_path / "drop"
    make_snapshot(drop, built_at=T0)
    with SnapshotStore(tmp_path / "snapshots.sqlite", "demo-store") as store:
        assert import_newer(store, drop, refused).built_at == T0
        cut = make_snapshot(drop, built_at=T0 + timedelta(days=1))
        data = gzip.decompress(cut.read_bytes())
        cut.write_bytes(gzip.compress(data[: len(data) // 2]))
        caplog.clear()
        for _ in range(5):  # five checks
            assert import_newer(store, drop, refused) is None
        assert [r.levelname for r in caplog.records if "not imported" in r.getMessage()] == ["ERROR"]
        now[0] = 3601.0  # an hour later it is tried (and refused) once more
        assert import_newer(store, drop, refused) is None
        assert len([r for r in caplog.records if "not imported" in r.getMessage()]) == 2
        make_snapshot(drop, built_at=T0 + timedelta(days=1), members={ANNA: ["s-2"]})  # the file is put right
        assert import_newer(store, drop, refused).built_at == T0 + timedelta(days=1)
