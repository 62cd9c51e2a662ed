"""Demo loyalty data: deterministic, valid cards, seeded through the CSV import, personas show their rule; bench-offers runs."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from kiosk.cli import main as cli_main
from kiosk.config import KioskConfig, parse_config
from kiosk.demo_data.generate import generate, main as generate_main, seed_demo
from kiosk.services.cards import CardValidator
from kiosk.services import loyalty_csv
from kiosk.services.loyalty import LoyaltyStore
from kiosk.services.offers import OfferEngine
from kiosk.services.cards import CardHasher
from kiosk.services.shop import open_shop

TODAY = date(2025, 6, 15)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> LoyaltyStore:
    work = tmp_path_factory.mktemp("demo")
    store = LoyaltyStore(work / "loyalty.sqlite")
    assert seed_demo(store, work / "csv", TODAY) is True
    yield store
    store.close()


def test_generation_is_deterministic_and_sized() -> None:
    a, b = generate(today=TODAY), generate(today=TODAY)
    assert a.purchases == b.purchases and a.customers == b.customers and a.offers == b.offers
    big = generate(customers=500, purchases=50_000, today=TODAY)
    assert len(big.customers) == 500 and 45_000 <= len(big.purchases) <= 55_000


def test_every_demo_card_is_valid_under_the_default_formats() -> None:
    validator = CardValidator.from_config(KioskConfig().cards)
    data = generate(today=TODAY)
    assert all(validator.check(card, "wedge").valid for card, _, _ in data.customers)
    assert len({card for card, _, _ in data.customers}) == len(data.customers)


def test_seeding_goes_through_the_import_and_only_once(seeded: LoyaltyStore, tmp_path: Path) -> None:
    counts = seeded.counts()
    assert counts["customers"] == 200 and counts["purchases"] > 15_000 and counts["offers"] > 40
    assert seed_demo(seeded, tmp_path, TODAY) is False
    assert seeded.counts() == counts


def test_a_demo_store_from_an_earlier_day_is_seeded_afresh_but_real_data_never(tmp_path: Path) -> None:
    with LoyaltyStore(tmp_path / "demo.sqlite") as store:
        assert seed_demo(store, tmp_path / "csv", TODAY)
        anna = store.find_customer(generate(today=TODAY).cards[0].card_id)
        first_day = max(p.day for p in store.history(anna.customer_id))
        assert seed_demo(store, tmp_path / "csv", TODAY + timedelta(days=40))
        assert store.counts()["customers"] == 200
        anna = store.find_customer(anna.card_id)
        assert max(p.day for p in store.history(anna.customer_id)) == first_day + 40
    with LoyaltyStore(tmp_path / "real.sqlite") as store:
        store.add_customers([("4006381333931", "Real", "en")])
        assert not seed_demo(store, tmp_path / "csv", TODAY)
        assert store.counts()["customers"] == 1


def offers_of(store: LoyaltyStore, card: str) -> list:
    customer = store.find_customer(card)
    return OfferEngine(store).offers_for(customer.customer_id, TODAY, 4)


def test_personas_show_their_rule(seeded: LoyaltyStore) -> None:
    cards = {c.first_name: c.card_id for c in generate(today=TODAY).cards}
    anna = offers_of(seeded, cards["Anna"])
    assert anna[0].title.startswith("Filter coffee") and anna[0].rule == "repurchase"
    customer = seeded.find_customer(cards["Anna"])
    assert OfferEngine(seeded).offers_for(customer.customer_id, TODAY, 4, "de")[0].title == "Filterkaffee 500 g"
    ben = offers_of(seeded, cards["Ben"])
    assert not any(o.title.startswith("Laptop 14") for o in ben)
    assert any(o.title.startswith("Laptop sleeve") and o.rule == "together" for o in ben)
    assert {o.rule for o in offers_of(seeded, cards["David"])} == {"popular"}
    emma = offers_of(seeded, cards["Emma"])
    assert any(o.title.startswith("Descaler") and o.rule == "together" for o in emma)
    assert not any(o.title.startswith("Coffee machine") for o in emma)
    felix = offers_of(seeded, cards["Felix"])
    assert felix[0].rule == "repurchase"


def test_generator_cli_writes_importable_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert generate_main(["--out", str(tmp_path), "--customers", "20", "--purchases", "500", "--today", "2025-06-15"]) == 0
    out = capsys.readouterr().out
    assert "card 2900000000018  Anna" in out
    store = LoyaltyStore(tmp_path / "x.sqlite")
    loyalty_csv.import_products(store, tmp_path / "products.csv")
    loyalty_csv.import_customers(store, tmp_path / "customers.csv")
    loyalty_csv.import_transactions(store, tmp_path / "transactions.csv")
    loyalty_csv.import_offers(store, tmp_path / "offers.csv")
    assert store.counts()["customers"] == 20
    store.close()


def test_open_shop_seeds_when_configured(tmp_path: Path) -> None:
    config = parse_config({"data_dir": str(tmp_path), "loyalty": {"seed_demo_data": True}})
    shop = open_shop(config, CardHasher(config.card_hash_key()))
    try:
        assert shop.store.path == tmp_path / "loyalty.sqlite" and shop.store.counts()["customers"] == 200
    finally:
        shop.close()


def test_bench_offers_command_prints_percentiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench-offers", "--customers", "300", "--purchases", "15000", "--scans", "40", "--no-ui",
            "--dir", str(tmp_path)]  # the screen path is timed in tests/qt/test_ui_scan_bench.py
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert "customers 300" in out and "40 scans: p50" in out and "meets p95 <= 100 ms" in out
    assert cli_main(argv) == 0
    assert "reused cached store" in capsys.readouterr().out
