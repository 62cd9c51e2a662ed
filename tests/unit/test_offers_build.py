"""`moodkiosk offers-build` (embedded engine): reading the exports, bad input named by file/row/column with
nothing written, and snapshots a real kiosk store imports and ranks from, agreeing with the kiosk's own engine."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from central.offers_build.export import read_catalogue, read_transactions
from kiosk.cli import main as cli_main
from kiosk.services import loyalty_csv
from kiosk.services.cards import CardHasher
from kiosk.services.loyalty import LoyaltyStore
from kiosk.config import OffersConfig
from kiosk.services.offer_ranker import PickRules
from kiosk.services.offer_snapshot import SnapshotMember, read_snapshot
from kiosk.services.ranked_engine import RankedOfferEngine
from kiosk.services.records import Offer
from kiosk.services.snapshot_store import SnapshotStore

KEY = "offers-build-test-key-0123456789"
DAY = date(2025, 6, 15)
PRODUCTS = """sku,name,category,department,kind,repurchase_days,durable_days
COF,Filter coffee,coffee,drinks,consumable,7,
MLK,Milk,milk,dairy,consumable,4,
BRD,Bread,bread,bakery,consumable,3,
GOU,Gouda,cheese,dairy,consumable,7,
LAP,Laptop,laptops,electronics,durable,,1095
"""
OFFERS = """offer_id,title,icon,price,discount_percent,valid_from,valid_until,sku,category,title_de
o-COF,Coffee,coffee,3.49,,2025-06-01,2025-06-30,COF,,Kaffee
o-MLK,Milk,milk,,10,2025-06-01,2025-06-30,MLK,,Milch
o-BRD,Bread,bread,1.99,,2025-06-01,2025-06-30,BRD,,
o-LAP,Laptop,laptop,499,,2025-06-01,2025-06-30,LAP,,
c-cheese,All cheese,cheese,,20,2025-06-01,2025-06-30,,cheese,
"""
# Anna (store-a) buys coffee weekly; Ben (store-a and store-b) bought a laptop; Cleo (store-b) cheese
HEADER = "member,date,product,store,quantity,amount\n"
LINES = [
    *(f"2900000000018,2025-{m:02d}-{d:02d},COF,store-a,1,3.49" for m, d in ((5, 11), (5, 18), (5, 25), (6, 1), (6, 7))),
    *(f"2900000000018,2025-06-07,{p},store-a,1,1.00" for p in ("MLK", "BRD")),
    "2900000000025,2025-06-10,LAP,store-a,1,499",
    "2900000000025,2025-06-12,MLK,store-b,2,2.20",
    "2900000000025,2025-06-12,BRD,store-b,-1,-1.99",  # a return: skipped and counted
    *(f"2900000000032,2025-06-{d:02d},GOU,store-b,1,4.10" for d in (1, 8, 13)),
    *(f"29000000001{n:02d},2025-06-0{1 + n % 5},{p},store-b,1,1.00" for n in range(12) for p in ("MLK", "BRD")),
]


def write_inputs(folder: Path, lines: list[str] | None = None, products: str = PRODUCTS, offers: str = OFFERS,
                 header: str = HEADER) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"transactions": folder / "transactions.csv", "products": folder / "products.csv",
             "offers": folder / "offers.csv"}
    paths["transactions"].write_text(header + "\n".join(LINES if lines is None else lines) + "\n")
    paths["products"].write_text(products)
    paths["offers"].write_text(offers)
    return paths


def build(paths: dict[str, Path], out: Path, *extra: str) -> int:
    return cli_main(["offers-build", "--transactions", str(paths["transactions"]), "--products", str(paths["products"]),
                     "--offers", str(paths["offers"]), "--out", str(out), "--date", DAY.isoformat(), *extra])


@pytest.fixture(autouse=True)
def card_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODKIOSK_CARD_HASH_KEY", KEY)


Listed = tuple[str, str, str, float, tuple[str, int | None, str | None, str | None] | None]


def snapshot_members(path: Path) -> dict[str, list[Listed]]:
    return {line.member: [(o.offer_id, o.rule, o.reason, o.score,
                           (o.why.kind, o.why.days, o.why.anchor, o.why.anchor_offer) if o.why else None)
                          for o in line.offers]
            for line in read_snapshot(path) if isinstance(line, SnapshotMember)}


def listed(offer: Offer) -> Listed:
    why = offer.why
    return (offer.offer_id, str(offer.rule), offer.reason, offer.score,
            (why.kind.value, why.days, why.anchor, why.anchor_offer) if why else None)


def test_build_writes_per_store_snapshots_the_kiosk_engine_agrees_with(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    paths = write_inputs(tmp_path / "in")
    assert build(paths, tmp_path / "out") == 0
    printed = capsys.readouterr().out
    assert "(1 returns skipped), 15 members, 2 stores" in printed
    files = {p.name.split("-2", 1)[0]: p for p in (tmp_path / "out").glob("*.offers.jsonl.gz")}
    assert sorted(files) == ["store-a", "store-b"]
    hasher = CardHasher(KEY.encode())
    a, b = snapshot_members(files["store-a"]), snapshot_members(files["store-b"])
    assert set(a) == {hasher("2900000000018"), hasher("2900000000025")}
    assert hasher("2900000000025") in b and hasher("2900000000018") not in b
    anna = a[hasher("2900000000018")]
    assert anna[0][:2] == ("o-COF", "repurchase")
    assert not any(o[0] == "o-LAP" for o in a[hasher("2900000000025")])  # durable just bought: never offered

    # the kiosk's own engine (its default, the ranker, with the config's default rules) on the same purchases
    # gives the same offers, rule, score, staff reason and shopper reason
    with LoyaltyStore(tmp_path / "kiosk.sqlite") as store:
        loyalty_csv.import_products(store, paths["products"])
        loyalty_csv.import_offers(store, paths["offers"])
        customers = sorted({line.split(",")[0] for line in LINES})
        store.add_customers([(card, "X", None) for card in customers])
        ids, skus = store.card_ids(), store.sku_ids()
        store.add_purchases([(ids[f[0]], skus[f[2]], date.fromisoformat(f[1]).toordinal(), int(f[4]))
                             for f in (line.split(",") for line in LINES) if int(f[4]) > 0])
        defaults = OffersConfig()
        engine = RankedOfferEngine(store, min_offers=3, rules=PickRules(defaults.category_cap, defaults.discovery_share),
                                   today=DAY)
        for card in customers:
            kiosk = [listed(o) for o in engine.offers_for(ids[card], DAY, 5)]
            central = (a | b)[hasher(card)]
            assert kiosk == central, card
        kinds = {o[4][0] for offers in (a | b).values() for o in offers}
        assert {"cycle", "regular", "goes_with", "popular"} <= kinds  # the comparison covers every reason shown

        # ... and a kiosk of store-a that imported its snapshot shows what its own engine shows, in German too
        with SnapshotStore(tmp_path / "snap-a.sqlite", "store-a") as snaps:
            snaps.import_file(files["store-a"])
            for card in ("2900000000018", "2900000000025"):
                shown = [(o.offer_id, o.title, o.rule, o.score, o.why, o.regular_price_cents)
                         for o in snaps.offers_for(hasher(card), DAY, 5, "de")]
                own = [(o.offer_id, o.title, o.rule, o.score, o.why, o.regular_price_cents)
                       for o in engine.offers_for(ids[card], DAY, 5, "de")]
                assert shown == own, card
            ben = snaps.offers_for(hasher("2900000000025"), DAY, 5, "de")
            assert any(o.why is not None and o.why.anchor == "Milch" for o in ben)  # "Passt zu: Milch"

    # ... and a kiosk of store-a imports its snapshot and shows it
    with SnapshotStore(tmp_path / "snap.sqlite", "store-a") as snaps:
        snaps.import_file(files["store-a"])
        shown = snaps.offers_for(hasher("2900000000018"), DAY, 4, "de")
        assert shown[0].title == "Kaffee" and shown[0].rule == "repurchase"
        with pytest.raises(Exception, match="snapshot for store 'store-b'"):
            snaps.import_file(files["store-b"])


def test_all_members_and_store_selection(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path / "in")
    assert build(paths, tmp_path / "all", "--all-members", "--store", "store-a") == 0
    (only,) = (tmp_path / "all").glob("*.offers.jsonl.gz")
    assert only.name.startswith("store-a-") and len(snapshot_members(only)) == 15
    assert build(paths, tmp_path / "one", "--store", "store-b") == 0
    (only,) = (tmp_path / "one").glob("*.offers.jsonl.gz")
    assert only.name.startswith("store-b-") and len(snapshot_members(only)) == 14


def test_parquet_and_csv_read_the_same(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    table = pacsv.read_csv(paths["transactions"], convert_options=pacsv.ConvertOptions(
        column_types={"member": pa.string(), "date": pa.date32()}))
    pq.write_table(table, tmp_path / "transactions.parquet")
    catalogue = read_catalogue(paths["products"], paths["offers"], DAY)
    from_csv = read_transactions(paths["transactions"], catalogue)
    from_parquet = read_transactions(tmp_path / "transactions.parquet", catalogue)
    for name in ("member", "day", "product", "store"):
        assert getattr(from_csv, name).tolist() == getattr(from_parquet, name).tolist()
    assert list(from_csv.members) == list(from_parquet.members) and from_csv.skipped_returns == 1


@pytest.mark.parametrize("change, message", [
    (dict(header="member,date,product,quantity,amount\n", lines=["2900000000018,2025-06-01,COF,1,1"]),
     "transactions.csv: missing column(s) store"),
    (dict(lines=[LINES[0], "2900000000018,2025-13-01,COF,store-a,1,1"]),
     "row 3, column date: is not a date YYYY-MM-DD (got '2025-13-01')"),
    (dict(lines=[LINES[0], "2900000000018,01.06.2025,COF,store-a,1,1"]), "row 3, column date"),
    # impossible days were rolled over to the next month (2025-02-30 read as 2025-03-02), year 0000 taken
    (dict(lines=[*LINES[:2], "2900000000018,2025-02-30,COF,store-a,1,1", "2900000000018,0000-01-01,COF,store-a,1,1"]),
     "nothing written, 2 bad value(s): row 4, column date: is not a date YYYY-MM-DD (got '2025-02-30'); "
     "row 5, column date: is not a date YYYY-MM-DD (got '0000-01-01')"),
    (dict(lines=["2900000000018,2025-06-01,XXX,store-a,1,1"]),
     "row 2, column product: is not a sku of the products file (got 'XXX')"),
    (dict(lines=["29000000000AB,2025-06-01,COF,store-a,1,1"]), "row 2, column member"),
    (dict(lines=["2900000000018,2025-06-01,COF,store a,1,1", "2900000000018,2025-06-01,COF,store-a,one,1"]),
     "row 2, column store: is not a store id (1-64 letters, digits, - or _) (got 'store a'); "
     "row 3, column quantity"),
    (dict(lines=["2900000000018,2025-06-01,COF,store-a,1,"]), "row 2, column amount"),
    (dict(products=PRODUCTS.replace("MLK,Milk,milk,", "MLK,Milk,,")), "products.csv: nothing imported"),
    (dict(products=PRODUCTS.replace("MLK,Milk,milk,", "MLK,Milk,,")), "row 3, column category: is empty"),
    (dict(offers=OFFERS.split("\n", 1)[0] + "\n"), "offers.csv: the offer catalogue is empty"),
    (dict(offers=OFFERS.replace("2025-06-30", "2025-06-10")), "no offer is valid on the build date 2025-06-15"),
    (dict(lines=["2900000000018,2025-06-01,COF,store-a,0,0"]), "no purchase lines left to rank"),
    # a line dated after the build date made the ranker score NaN: a one-line error naming no file, row or column
    (dict(lines=[*LINES, "2900000000018,2025-06-16,COF,store-a,1,1"]),
     "row 39, column date: is after the build date 2025-06-15 (export up to it, or pass a later --date) "
     "(got '2025-06-16')"),
    (dict(lines=[*LINES, "2900000000018,9999-12-31,COF,store-a,1,1"]), "row 39, column date: is after the build date"),
    # a second `store` column: read silently in place of the first before
    (dict(header="member,date,product,store,quantity,amount,store\n", lines=[f"{line},store-z" for line in LINES]),
     "transactions.csv: column(s) store appear more than once"),
    # texts the kiosk's own import took but a snapshot cannot carry (a pydantic traceback before): refused alike
    (dict(offers=OFFERS.replace("o-COF,Coffee,", "o-COF," + "Kaffee " * 40 + ",")),
     "offers.csv: nothing imported, 1 bad value(s): row 2, column title: is longer than 200 characters (got 279)"),
    (dict(offers=OFFERS.replace("o-MLK,", "o-" + "M" * 70 + ",")), "row 3, column offer_id: is longer than 64"),
    (dict(products=PRODUCTS.replace("COF,Filter coffee,", "COF," + "Filterkaffee " * 20 + ",")),
     "products.csv: nothing imported, 1 bad value(s): row 2, column name: is longer than 200 characters"),
])
def test_bad_input_names_file_row_column_and_writes_nothing(tmp_path: Path, capsys, change, message) -> None:  # type: ignore[no-untyped-def]
    paths = write_inputs(tmp_path / "in", **change)
    out = tmp_path / "out"
    assert build(paths, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0], err
    assert not out.exists() or not any(out.iterdir())


def test_missing_files_and_key(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    paths = write_inputs(tmp_path / "in")
    assert build({**paths, "transactions": tmp_path / "nope.parquet"}, tmp_path / "out") == 2
    assert "nope.parquet: no such file" in capsys.readouterr().err
    (tmp_path / "bad.parquet").write_text("not parquet")
    assert build({**paths, "transactions": tmp_path / "bad.parquet"}, tmp_path / "out") == 2
    assert "bad.parquet: cannot read as Parquet" in capsys.readouterr().err
    # a Parquet file with a column twice: pyarrow's message carried its whole schema over 11 lines
    table = pa.table({"member": ["2900000000018"], "date": ["2025-06-01"], "product": ["COF"], "store": ["store-a"],
                      "quantity": [1], "amount": [1.0]})
    pq.write_table(table.append_column("store", pa.array(["store-z"])), tmp_path / "twice.parquet")
    assert build({**paths, "transactions": tmp_path / "twice.parquet"}, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "twice.parquet: column(s) store appear more than once" in err[0], err
    assert build(paths, tmp_path / "out", "--store", "store-z") == 2
    assert "--store store-z: not a store of the export" in capsys.readouterr().err
    monkeypatch.delenv("MOODKIOSK_CARD_HASH_KEY")
    assert build(paths, tmp_path / "out") == 2
    assert "no card hash key" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_builds_offer_rules_default_to_the_kiosks(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import argparse

    from central.offers_build.cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--transactions", "t", "--products", "p", "--offers", "o", "--out", "d"])
    defaults = OffersConfig()
    assert (args.category_cap, args.discovery_share, args.min_offers) == \
        (defaults.category_cap, defaults.discovery_share, defaults.min_offers)
    paths = write_inputs(tmp_path / "in")
    for option, value, message in (("--discovery-share", "nan", "must be 0..1 (got nan)"),
                                   ("--category-cap", "-1", "must be 0..5 (got -1)"),
                                   ("--store", "../etc", "store '../etc' is not a valid id")):
        with pytest.raises(SystemExit) as stop:
            build(paths, tmp_path / "out", option, value)
        assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("score", [float("nan"), float("inf")])
def test_an_engine_score_that_is_not_finite_writes_nothing(tmp_path: Path, score: float) -> None:
    """The snapshot lines are built without validation; a NaN score made a file every kiosk refuses whole."""
    from datetime import datetime, timezone

    from central.errors import CentralError
    from central.offers_build.ranking import Ranking
    from central.offers_build.snapshots import write_store_snapshots

    offer = Offer("O1", "Coffee", "coffee", 299, None, date(2030, 1, 1), "drinks", "test", score=score)
    ranking = Ranking(offers={"4006381333931": (offer,)}, store_members={"s1": ("4006381333931",)}, lines=1,
                      skipped_returns=0, learn_s=0.0, rank_s=0.0)
    with pytest.raises(CentralError, match=r"scored offer O1 (nan|inf) \(not a finite number\); nothing was written"):
        write_store_snapshots(tmp_path / "out", ranking, (), CardHasher(KEY.encode()),
                              datetime(2026, 12, 2, tzinfo=timezone.utc), date(2026, 12, 2), "test", False)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_unusable_output_folder_is_one_line_and_leaves_no_store_half_delivered(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """--out a file was a FileExistsError traceback; a write failing at the second store (its name taken by a
    folder: the same os.replace failure as a full disk) left the first store's new snapshot behind, so one store's
    kiosks moved to the new build and the other's stayed on the old one, with a traceback."""
    from datetime import datetime, timezone

    from central.errors import CentralError
    from central.offers_build.ranking import Ranking
    from central.offers_build.snapshots import write_store_snapshots
    from kiosk.services.offer_snapshot import snapshot_name

    paths = write_inputs(tmp_path / "in")
    (tmp_path / "a-file").write_text("not a folder")
    assert build(paths, tmp_path / "a-file") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a-file: cannot write the snapshots" in err[0], err
    assert build(paths, tmp_path / "a-file" / "sub") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write the snapshots" in err[0], err

    built = datetime(2026, 12, 2, 3, tzinfo=timezone.utc)
    offer = Offer("o-COF", "Coffee", "coffee", 349, None, date(2025, 6, 30), "coffee", "test", score=1.0)
    ranking = Ranking(offers={"2900000000018": (offer,)}, lines=1, skipped_returns=0, learn_s=0.0, rank_s=0.0,
                      store_members={"store-a": ("2900000000018",), "store-b": ("2900000000018",)})
    catalogue = read_catalogue(paths["products"], paths["offers"], DAY).offers
    out = tmp_path / "out"
    (out / snapshot_name("store-b", built)).mkdir(parents=True)  # the second store's rename fails
    with pytest.raises(CentralError, match=r"cannot write the snapshots: .*nothing delivered"):
        write_store_snapshots(out, ranking, catalogue, CardHasher(KEY.encode()), built, DAY, "test", False)
    assert sorted(p.name for p in out.iterdir()) == [snapshot_name("store-b", built)]  # only the folder


def test_a_build_interrupted_half_way_delivers_no_store(tmp_path: Path) -> None:
    """Ctrl-C while the second store's file was written left the first store's new snapshot in --out (its
    kiosks moved to a build the other store never got). The interrupt comes from the catalogue item the second
    store's file needs (a stand-in: a real Ctrl-C cannot be timed to that line)."""
    from dataclasses import dataclass
    from datetime import datetime, timezone

    from central.offers_build.ranking import Ranking
    from central.offers_build.snapshots import write_store_snapshots

    paths = write_inputs(tmp_path / "in")
    catalogue = read_catalogue(paths["products"], paths["offers"], DAY).offers
    milk = next(item for item in catalogue if item.offer_id == "o-MLK")

    @dataclass
    class Interrupting:
        offer_id: str = "o-MLK"

        def __getattr__(self, name: str) -> object:
            raise KeyboardInterrupt

    coffee = Offer("o-COF", "Coffee", "coffee", 349, None, date(2025, 6, 30), "coffee", "test", score=1.0)
    milk_offer = Offer("o-MLK", "Milk", "milk", None, 10, date(2025, 6, 30), "milk", "test", score=1.0)
    ranking = Ranking(offers={"2900000000018": (coffee,), "2900000000025": (milk_offer,)}, lines=2,
                      skipped_returns=0, learn_s=0.0, rank_s=0.0,
                      store_members={"store-a": ("2900000000018",), "store-b": ("2900000000025",)})
    out = tmp_path / "out"
    built = datetime(2026, 12, 2, 3, tzinfo=timezone.utc)
    with pytest.raises(KeyboardInterrupt):
        write_store_snapshots(out, ranking, tuple(i for i in catalogue if i is not milk) + (Interrupting(),),  # type: ignore[arg-type]
                              CardHasher(KEY.encode()), built, DAY, "test", False)
    assert list(out.iterdir()) == []
    written = write_store_snapshots(out, ranking, catalogue, CardHasher(KEY.encode()), built, DAY, "test", False)
    assert sorted(p.name for p in out.iterdir()) == sorted(w.path.name for w in written) == [
        "store-a-20261202T030000.offers.jsonl.gz", "store-b-20261202T030000.offers.jsonl.gz"]
