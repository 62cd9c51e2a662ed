"""A loyalty store built from a retail basket file, and bench-offers on it (ranker beside the previous engine)."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from kiosk.cli import main as cli_main
from kiosk.evaluation.retail_data import load_retail
from kiosk.evaluation.retail_store import build_retail_store, card_for
from kiosk.services.cards import ean13_ok
from kiosk.services.loyalty import LoyaltyStore

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "retail_small.csv"
TODAY = date(2026, 3, 1)


def test_store_from_a_retail_file(tmp_path: Path) -> None:
    data = load_retail(FIXTURE)
    with LoyaltyStore(tmp_path / "s.sqlite") as store:
        summary = build_retail_store(data, store, TODAY)
        assert store.counts() == {"customers": 14, "products": 12, "purchases": len(data.log), "offers": 12}
        assert all(ean13_ok(card) for card in store.card_ids()) and card_for(0) in store.card_ids()
        _, day, _ = store.purchase_arrays()
        assert day.max() == TODAY.toordinal() - 1 and summary.day_shift > 0
        catalogue = {o.product_id: o for o in store.catalogue()}
        milk = store.sku_ids()["P01"]
        assert catalogue[milk].regular_price_cents == 3500  # sales 35 per unit in the fixture
        assert all(o.valid_on(TODAY) and o.discount_percent in (10, 20, 30) for o in catalogue.values())
        assert store.products()[store.sku_ids()["P12"]].category == "uncategorised"


def test_bench_offers_on_a_retail_store(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODKIOSK_CARD_HASH_KEY", "bench-test-key-0123456789abcdef")
    argv = ["bench-offers", "--retail", str(FIXTURE), "--scans", "10", "--no-ui", "--dir", str(tmp_path), "--json"]
    assert cli_main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["store"]["customers"] == 14 and result["store"]["purchases"] > 400
    assert result["scan_to_view"]["samples"] == 10 and result["scan_to_view_previous"]["samples"] == 10
    assert result["offers_per_scan"]["min"] >= 3


def test_bench_offers_bad_retail_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,basket_id,date\n1,1,2001-01-01\n", encoding="utf-8")
    assert cli_main(["bench-offers", "--retail", str(bad), "--no-ui", "--dir", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "missing column(s) product_id" in err and "Traceback" not in err
