"""Loyalty store on real SQLite files: WAL, lookups, indices, and CSV imports that are all-or-nothing."""
from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from kiosk.errors import KioskError
from kiosk.services import loyalty_csv
from kiosk.services.loyalty import LoyaltyError, LoyaltyStore
from kiosk.services.loyalty_csv import ImportFileError
from kiosk.services.records import Customer

PRODUCTS = """sku,name,category,department,kind,repurchase_days,durable_days
COF,Filter coffee,coffee,drinks,consumable,7,
LAP,Laptop,laptops,electronics,durable,,1095
"""
CUSTOMERS = """card_id,first_name,language
4006381333931,Anna,de
5901234123457,Ben,
"""


def csv_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def store(tmp_path: Path) -> LoyaltyStore:
    store = LoyaltyStore(tmp_path / "loyalty.sqlite")
    loyalty_csv.import_products(store, csv_file(tmp_path, "products.csv", PRODUCTS))
    loyalty_csv.import_customers(store, csv_file(tmp_path, "customers.csv", CUSTOMERS))
    yield store
    store.close()


def test_wal_mode_and_lookups(store: LoyaltyStore, tmp_path: Path) -> None:
    with sqlite3.connect(store.path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    anna = store.find_customer("4006381333931")
    assert anna == Customer(anna.customer_id, "4006381333931", "Anna", "de")
    assert store.find_customer("5901234123457").language is None
    assert store.find_customer("0000000000000") is None


def test_transactions_import_and_history(store: LoyaltyStore, tmp_path: Path) -> None:
    result = loyalty_csv.import_transactions(store, csv_file(tmp_path, "t.csv", (
        "card_id,date,sku,quantity\n"
        "4006381333931,2025-06-10,COF,2\n"
        "4006381333931,2025-06-01,COF,\n"
        "5901234123457,2025-05-01,LAP,1\n"
    )))
    assert result.rows == 3
    anna = store.find_customer("4006381333931")
    history = store.history(anna.customer_id)
    assert [(date.fromordinal(p.day).isoformat(), p.quantity) for p in history] == [("2025-06-01", 1), ("2025-06-10", 2)]


def test_history_lookup_uses_the_index(store: LoyaltyStore) -> None:
    plan = store._query("EXPLAIN QUERY PLAN SELECT product_id, day, quantity FROM purchases WHERE customer_id = ? ORDER BY day", (1,))
    assert "purchases_by_customer" in " ".join(str(row) for row in plan)
    plan = store._query("EXPLAIN QUERY PLAN SELECT customer_id FROM customers WHERE card_id = ?", ("1",))
    assert "INDEX" in " ".join(str(row) for row in plan)


def test_bad_rows_name_row_column_and_problem_and_import_nothing(store: LoyaltyStore, tmp_path: Path) -> None:
    path = csv_file(tmp_path, "t.csv", (
        "card_id,date,sku,quantity\n"
        "4006381333931,2025-06-10,COF,1\n"   # fine, but must not be stored either
        "4006381333931,2025-13-01,COF,1\n"
        "4006381333931,2025-06-11,COF,lots\n"
        "12ab,2025-06-11,COF,1\n"
        "４００６３８１３３３９３１,2025-06-11,COF,1\n"  # full-width digits: a second spelling of a card number
    ))
    with pytest.raises(ImportFileError) as caught:
        loyalty_csv.import_transactions(store, path)
    message = str(caught.value)
    assert f"{path}: nothing imported, 4 bad value(s)" in message
    assert "row 3, column date: is not a date YYYY-MM-DD (got '2025-13-01')" in message
    assert "row 4, column quantity: is not a whole number (got 'lots')" in message
    assert "row 5, column card_id: is not a card number of 4-64 digits" in message
    assert "row 6, column card_id: is not a card number of 4-64 digits" in message
    assert isinstance(caught.value, KioskError) and "\n" not in message
    assert store.counts()["purchases"] == 0


def test_references_must_exist(store: LoyaltyStore, tmp_path: Path) -> None:
    path = csv_file(tmp_path, "t.csv", "card_id,date,sku\n4006381333931,2025-06-10,TEA\n9999999999994,2025-06-10,COF\n")
    with pytest.raises(ImportFileError) as caught:
        loyalty_csv.import_transactions(store, path)
    assert caught.value.problems == [
        "row 2, column sku: unknown product 'TEA'",
        "row 3, column card_id: no customer with this card (import customers first)",
    ]
    assert store.counts()["purchases"] == 0


def test_structure_problems(store: LoyaltyStore, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="row 1: missing column\\(s\\) first_name"):
        loyalty_csv.import_customers(store, csv_file(tmp_path, "c.csv", "card_id,name\n4006381333931,Anna\n"))
    with pytest.raises(ImportFileError, match="row 3, column card_id: duplicate of row 2"):
        loyalty_csv.import_customers(store, csv_file(tmp_path, "c.csv", "card_id,first_name,language\n11112222,A,en\n11112222,B,de\n"))
    with pytest.raises(ImportFileError, match="row 2: more values than columns"):
        loyalty_csv.import_customers(store, csv_file(tmp_path, "c.csv", "card_id,first_name,language\n11112222,A,en,extra\n"))
    with pytest.raises(ImportFileError, match="row 2, column language: must be one of en, de \\(got 'fr'\\)"):
        loyalty_csv.import_customers(store, csv_file(tmp_path, "c.csv", "card_id,first_name,language\n11112222,A,fr\n"))
    with pytest.raises(ImportFileError, match="file not found"):
        loyalty_csv.import_customers(store, tmp_path / "missing.csv")
    with pytest.raises(ImportFileError, match="cannot read: not a regular file"):
        loyalty_csv.import_customers(store, Path("/dev/zero"))  # would be read for ever
    with pytest.raises(ImportFileError, match="cannot read: is a directory"):
        loyalty_csv.import_customers(store, tmp_path)
    endless = csv_file(tmp_path, "c.csv", "card_id,first_name,language\n11112222,A" + "a" * 200_000)
    with pytest.raises(ImportFileError, match="cannot read: line 2 is longer than 65536 characters"):
        loyalty_csv.import_customers(store, endless)  # a file without line breaks is not read whole
    with pytest.raises(ImportFileError, match="row 2, column durable_days: a durable needs its durable_days"):
        loyalty_csv.import_products(store, csv_file(tmp_path, "p.csv", PRODUCTS.splitlines()[0] + "\nTV,TV,tv,electronics,durable,,\n"))
    assert store.counts()["customers"] == 2


def test_many_problems_are_summarised(store: LoyaltyStore, tmp_path: Path) -> None:
    rows = "".join(f"4006381333931,bad-{i},COF,1\n" for i in range(50))
    with pytest.raises(ImportFileError) as caught:
        loyalty_csv.import_transactions(store, csv_file(tmp_path, "t.csv", "card_id,date,sku,quantity\n" + rows))
    assert caught.value.total == 50 and len(caught.value.problems) == 20
    assert str(caught.value).endswith("(and 30 more)")


def test_offers_import_rules_and_replacement(store: LoyaltyStore, tmp_path: Path) -> None:
    header = "offer_id,title,icon,price,discount_percent,valid_from,valid_until,sku,category\n"
    good = csv_file(tmp_path, "o.csv", header + (
        "o1,Coffee,coffee,3.99,,2025-06-01,2025-06-30,COF,\n"
        "o2,All laptops -10%,computer,,10,2025-06-01,2025-06-30,,laptops\n"
    ))
    loyalty_csv.import_offers(store, good)
    catalogue = store.catalogue()
    assert [(o.offer_id, o.price_cents, o.discount_percent, o.category) for o in catalogue] == [
        ("o1", 399, None, None), ("o2", None, 10, "laptops")]
    assert catalogue[0].valid_on(date(2025, 6, 30)) and not catalogue[0].valid_on(date(2025, 7, 1))
    bad = csv_file(tmp_path, "bad.csv", header + (
        "o3,Nothing,star,,,2025-06-01,2025-06-30,COF,\n"
        "o4,Nowhere,star,1.00,,2025-06-01,2025-06-30,,\n"
        "o5,Backwards,star,1.00,,2025-06-30,2025-06-01,COF,\n"
        "o6,Too much,star,,150,2025-06-01,2025-06-30,COF,\n"
        "o7,Cheap,star,abc,,2025-06-01,2025-06-30,COF,\n"
    ))
    with pytest.raises(ImportFileError) as caught:
        loyalty_csv.import_offers(store, bad)
    problems = caught.value.problems
    assert "row 5, column discount_percent: must be between 1 and 99 (got 150)" in problems
    assert "row 6, column price: is not a price like 2.49 (got 'abc')" in problems
    assert len(store.catalogue()) == 2  # the old catalogue is untouched
    loyalty_csv.import_offers(store, csv_file(tmp_path, "new.csv", header + "o9,Coffee,coffee,2.99,,2025-07-01,2025-07-31,COF,\n"))
    assert [o.offer_id for o in store.catalogue()] == ["o9"]


def test_offer_titles_per_language(store: LoyaltyStore, tmp_path: Path) -> None:
    header = "offer_id,title,icon,price,valid_from,valid_until,sku,title_de\n"
    loyalty_csv.import_offers(store, csv_file(tmp_path, "o.csv", header + (
        "o1,Coffee,coffee,3.99,2025-06-01,2025-06-30,COF,Kaffee\n"
        "o2,Laptop,computer,499,2025-06-01,2025-06-30,LAP,\n"
    )))
    first, second = store.catalogue()
    assert (first.title_in("de"), first.title_in("en"), first.title_in(None)) == ("Kaffee", "Coffee", "Coffee")
    assert second.title_in("de") == "Laptop" and second.titles == ()
    loyalty_csv.import_offers(store, csv_file(tmp_path, "o2.csv", header + "o1,Coffee,coffee,2.99,2025-06-01,2025-06-30,COF,\n"),
                        replace_all=False)
    assert [o.title_in("de") for o in store.catalogue()] == ["Coffee", "Laptop"]  # old translation gone with it


def test_customers_import_updates_existing_cards(store: LoyaltyStore, tmp_path: Path) -> None:
    before = store.find_customer("4006381333931")
    loyalty_csv.import_customers(store, csv_file(tmp_path, "c.csv", "card_id,first_name,language\n4006381333931,Annabelle,en\n"))
    after = store.find_customer("4006381333931")
    assert (after.customer_id, after.first_name, after.language) == (before.customer_id, "Annabelle", "en")


def test_unusable_files_raise_loyalty_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LoyaltyError, match="cannot open"):
        LoyaltyStore(garbage)
    store = LoyaltyStore(tmp_path / "ok.sqlite")
    store.close()
    with pytest.raises(LoyaltyError, match="read failed"):
        store.find_customer("4006381333931")


def test_data_stamp_changes_with_purchases(store: LoyaltyStore) -> None:
    before = store.data_stamp()
    store.add_purchases([(1, 1, 700000, 1)])
    assert store.data_stamp() != before


def test_import_command_is_all_files_or_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kiosk.cli import main as cli_main

    db = tmp_path / "cmd.sqlite"
    products = csv_file(tmp_path, "p.csv", PRODUCTS)
    customers = csv_file(tmp_path, "c.csv", CUSTOMERS)
    bad = csv_file(tmp_path, "t.csv", "card_id,date,sku\n4006381333931,2025-02-30,COF\n")
    argv = ["import-loyalty", "--db", str(db), "--products", str(products), "--customers", str(customers)]
    assert cli_main(argv + ["--transactions", str(bad)]) == 2
    assert "row 2, column date: is not a date YYYY-MM-DD (got '2025-02-30')" in capsys.readouterr().err
    with LoyaltyStore(db) as store:
        assert store.counts() == {"customers": 0, "products": 0, "purchases": 0, "offers": 0}
    good = csv_file(tmp_path, "t2.csv", "card_id,date,sku\n4006381333931,2025-02-28,COF\n")
    assert cli_main(argv + ["--transactions", str(good)]) == 0
    assert "2 customers, 2 products, 1 purchases, 0 offers" in capsys.readouterr().out
    with LoyaltyStore(db) as store:  # the default engine's (the ranker's) model is learned and cached for today
        from kiosk.services.offer_ranking_model import MODEL_META_KEY

        assert store.get_meta(MODEL_META_KEY) is not None
    assert cli_main(["import-loyalty", "--db", str(db)]) == 2  # nothing to import is an error, not a silent pass


def test_import_with_a_config_refuses_cards_the_kiosk_would_reject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A customer whose number fails the kiosk's [cards] formats could never scan in: a bad row, not a silent import."""
    from kiosk.cli import main as cli_main

    config = tmp_path / "kiosk.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[cards]\nformats = ["ean13"]\n')
    customers = csv_file(tmp_path, "c.csv", "card_id,first_name\n4006381333931,Anna\n4006381333930,Bob\n79927398713,Cleo\n")
    argv = ["import-loyalty", "--config", str(config), "--customers", str(customers), "--log-level", "WARNING"]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"moodkiosk import-loyalty: error: {customers}: nothing imported, 2 bad value(s): "
        f"row 3, column card_id: check digit fails for ean13 ([cards] in {config}); the kiosk would reject this card; "
        f"row 4, column card_id: check digit fails for ean13 ([cards] in {config}); the kiosk would reject this card"
    ]
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[cards]\nformats = ["ean13", "luhn"]\n')
    fixed = csv_file(tmp_path, "c2.csv", "card_id,first_name\n4006381333931,Anna\n79927398713,Cleo\n")
    assert cli_main(["import-loyalty", "--config", str(config), "--customers", str(fixed)]) == 0
    assert "2 customers" in capsys.readouterr().out


def test_names_with_control_characters_are_refused(store: LoyaltyStore, tmp_path: Path) -> None:
    """A NUL or escape in a name would reach the shopper's screen and the logs."""
    path = csv_file(tmp_path, "c.csv", "card_id,first_name\n4006381333931,An\x00na\n5901234123457,\x1b[2JBen\n")
    before = store.counts()
    with pytest.raises(ImportFileError) as caught:
        loyalty_csv.import_customers(store, path)
    message = str(caught.value)
    assert "row 2, column first_name: contains the control character U+0000" in message
    assert "row 3, column first_name: contains the control character U+001B" in message
    assert store.counts() == before
    # Invisible trickery: a right-to-left override shows "Anna" reversed and reorders a log line; a line
    # separator breaks the line in many viewers; a name of zero-width spaces is no name on the screen.
    path = csv_file(tmp_path, "c.csv", "card_id,first_name\n4006381333931,\u202eAnna\n5901234123457,Ben\u2028Bob\n"
                                       "79927398713,\u200b\u200b\n11112222,\u0645\u0631\u064a\u0645\u200f\n")
    with pytest.raises(ImportFileError) as caught:
        loyalty_csv.import_customers(store, path)
    assert caught.value.problems == ["row 2, column first_name: contains the control character U+202E",
                                     "row 3, column first_name: contains the control character U+2028",
                                     "row 4, column first_name: has no visible character"]  # row 5 (Arabic) is fine
    assert store.counts() == before


def test_purchases_dated_in_the_future_are_refused(store: LoyaltyStore, tmp_path: Path) -> None:
    """Before: a purchase dated 2062 (a typo for 2026) was stored: it counted as "just bought" for decades and
    outlived loyalty.purchase_retention_days, whose prune deletes only what is older than the cut-off."""
    tomorrow = date.fromordinal(date.today().toordinal() + 1).isoformat()
    later = date.fromordinal(date.today().toordinal() + 2).isoformat()
    path = csv_file(tmp_path, "t.csv", f"card_id,date,sku\n4006381333931,{tomorrow},COF\n4006381333931,{later},COF\n"
                                       "4006381333931,9999-12-31,COF\n")
    with pytest.raises(ImportFileError) as caught:
        loyalty_csv.import_transactions(store, path)
    assert caught.value.problems == [
        f"row 3, column date: {later} is in the future", "row 4, column date: 9999-12-31 is in the future"]
    assert store.counts()["purchases"] == 0
    loyalty_csv.import_transactions(store, csv_file(tmp_path, "ok.csv", f"card_id,date,sku\n4006381333931,{tomorrow},COF\n"))
    assert store.counts()["purchases"] == 1


def test_rows_are_numbered_as_a_spreadsheet_shows_them_and_a_wrong_delimiter_is_named(store: LoyaltyStore,
                                                                                       tmp_path: Path) -> None:
    """A quoted line break keeps a record in one spreadsheet row: the rows after it are not shifted by the extra
    physical lines (before, the bad name of row 2 was 'row 3', and row 3 was 'row 5'). A file separated by
    semicolons (a German spreadsheet's CSV) says so instead of only 'missing column(s)'."""
    text = 'card_id,first_name,language\r\n11112222,"An\r\nna",de\r\n11113333,"Bo\nb\n",en\r\n11114444,,en\r\n'
    with pytest.raises(ImportFileError) as caught:
        loyalty_csv.import_customers(store, csv_file(tmp_path, "c.csv", text))
    assert caught.value.problems == ["row 2, column first_name: contains the control character U+000D",
                                     "row 3, column first_name: contains the control character U+000A",
                                     "row 4, column first_name: is empty"]
    semicolons = "card_id;first_name;language\n11112222;Anna;de\n"
    with pytest.raises(ImportFileError, match=r"row 1: missing column\(s\) card_id, first_name; the header "
                                              r"is one column holding ';': separate the columns by commas"):
        loyalty_csv.import_customers(store, csv_file(tmp_path, "c.csv", semicolons))
    assert store.counts()["customers"] == 2  # nothing of either file stored, what was there kept


def test_a_file_not_in_utf8_names_the_line_and_column_of_the_first_bad_byte(store: LoyaltyStore,
                                                                            tmp_path: Path) -> None:
    """A spreadsheet saved as Latin-1 / Windows-1252 (or UTF-16) was refused as 'not UTF-8 text (invalid
    continuation byte)': true, but which of 10,000 rows? Now the line and column of the first bad byte."""
    latin1 = tmp_path / "c.csv"
    latin1.write_bytes("card_id,first_name,language\n11112222,Anna,de\n11113333,René,en\n".encode("latin-1"))
    with pytest.raises(ImportFileError, match=r"line 3, column 13: byte 0xE9 is not UTF-8 \(save the file as UTF-8\)"):
        loyalty_csv.import_customers(store, latin1)
    utf16 = tmp_path / "u.csv"
    utf16.write_bytes("card_id,first_name,language\n11112222,Anna,de\n".encode("utf-16"))
    with pytest.raises(ImportFileError, match=r"line 1, column 1: byte 0xFF is not UTF-8"):
        loyalty_csv.import_customers(store, utf16)
    bom = csv_file(tmp_path, "b.csv", "\ufeffcard_id,first_name,language\n11112222,Anna,de\n")
    assert loyalty_csv.import_customers(store, bom).rows == 1  # a UTF-8 BOM is still fine


def test_read_only_store_serves_lookups_and_offers_and_changes_nothing(store: LoyaltyStore) -> None:
    """A kiosk that cannot write the shop's file (permissions, a read-only disk) opens it read-only
    (kiosk.services.shop.open_shop): lookups and the offer model work, writes are refused, the file is unchanged."""
    from kiosk.services.offer_model import OfferModel

    path = store.path
    store.close()
    before = path.read_bytes()
    with LoyaltyStore(path, read_only=True) as ro:
        assert ro.find_customer("4006381333931").first_name == "Anna"
        OfferModel.load_or_learn(ro)  # its cache cannot be written: learnt, not cached, no error
        with pytest.raises(LoyaltyError, match="readonly"):
            ro.set_meta("k", "v")
    assert path.read_bytes() == before


def test_read_only_open_reads_a_cut_short_file_to_the_end(store: LoyaltyStore) -> None:
    """A file cut short opens fine and breaks at the first page a lookup touches: the read-only open reads it
    all first, so the kiosk knows at start that it must run without it."""
    path = store.path
    loyalty_csv.import_customers(store, csv_file(path.parent, "many.csv", "card_id,first_name,language\n" + "".join(
        f"{4000000000000 + i},Name{i},en\n" for i in range(5000))))
    store.close()
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2 // 4096 * 4096)
    with pytest.raises(LoyaltyError, match="cannot open read-only: database disk image is malformed"):
        LoyaltyStore(path, read_only=True)
