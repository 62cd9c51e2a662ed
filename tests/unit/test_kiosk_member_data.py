"""A member's rights on the kiosk through the real CLI on a real SQLite loyalty store: export, forget, prune."""
from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.services.cards import CardHasher
from kiosk.services.loyalty import LoyaltyStore
from kiosk.services import offer_ranking_model
from kiosk.services.offer_model import MODEL_META_KEY, OfferModel

ZOE, MAX = "2900000000117", "2900000000124"
KEY = "member-data-test-key-0123456789abcdef"


@pytest.fixture()
def kiosk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config whose loyalty store has two members with purchases and a cached offer model."""
    monkeypatch.setenv("MOODKIOSK_CARD_HASH_KEY", KEY)
    db = tmp_path / "loyalty.sqlite"
    today = date.today().toordinal()
    with LoyaltyStore(db) as store:
        store.add_products([("COF", "Filter coffee", "coffee", "drinks", "consumable", 7.0, None),
                            ("TEA", "Green tea", "tea", "drinks", "consumable", 14.0, None)])
        store.add_customers([(ZOE, "Zoewinifred", "de"), (MAX, "Max", None)])
        cards, skus = store.card_ids(), store.sku_ids()
        store.add_purchases([(cards[ZOE], skus["COF"], today - ago, 1) for ago in (3, 10, 900)]
                            + [(cards[MAX], skus["TEA"], today - ago, 2) for ago in (5, 800)])
        OfferModel.load_or_learn(store)
        offer_ranking_model.load_or_learn(store, today)
        assert store.get_meta(MODEL_META_KEY) and store.get_meta(offer_ranking_model.MODEL_META_KEY)
    config = tmp_path / "kiosk.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[loyalty]\ndb_path = "{db}"\npurchase_retention_days = 730\n')
    return config


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_export_holds_everything_about_the_member(kiosk: Path, capsys) -> None:
    code, out, _ = run(capsys, "loyalty", "--config", str(kiosk), "export", "2900-0000-00117")
    assert code == 0
    data = json.loads(out)
    assert data["card_id"] == ZOE and data["first_name"] == "Zoewinifred" and data["language"] == "de"
    assert [p["sku"] for p in data["purchases"]] == ["COF"] * 3
    assert data["purchases"][0]["date"] == (date.today() - timedelta(days=900)).isoformat()
    assert data["log_pseudonym"] == CardHasher(KEY.encode())(ZOE)
    assert set(data["not_held"]) == {"images", "mood", "offers_shown", "central"}


def test_forget_erases_the_member_the_cache_and_the_log_pseudonym(kiosk: Path, tmp_path: Path, capsys) -> None:
    pseudonym = CardHasher(KEY.encode())(ZOE)
    log = tmp_path / "kiosk.log"
    log.write_text(f"10:00 INFO Offer 1 for {pseudonym}: o-cof Coffee (due)\n10:01 INFO Unknown card card:0011223344556677\n")
    code, out, _ = run(capsys, "loyalty", "--config", str(kiosk), "forget", ZOE, "--scrub-log", str(log))
    assert code == 0
    assert f"erased {pseudonym}: member, 3 purchases, offer-model cache deleted" in out
    assert "pseudonym replaced in 1 lines" in out and "journalctl --grep" in out
    assert pseudonym not in log.read_text() and "card:erased" in log.read_text()
    assert "card:0011223344556677" in log.read_text()  # other lines untouched
    db = tmp_path / "loyalty.sqlite"
    with LoyaltyStore(db) as store:
        assert store.find_customer(ZOE) is None and store.find_customer(MAX) is not None
        assert store.counts()["purchases"] == 2 and store.get_meta(MODEL_META_KEY) is None
        assert store.get_meta(offer_ranking_model.MODEL_META_KEY) is None  # the ranker learned from her too
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("loyalty.sqlite*"))
    assert b"Zoewinifred" not in raw and ZOE.encode() not in raw  # overwritten, not just unlinked from the b-tree
    code, _, err = run(capsys, "loyalty", "--config", str(kiosk), "export", ZOE)
    assert code == 2 and err.strip().endswith("(nothing exported)") and err.count("\n") == 1


@pytest.mark.parametrize("argv, problem", [
    (["export", "2900000099999"], "CARD: no loyalty member with card 2900000099999"),
    (["forget", "2900000099999"], "(nothing erased)"),
    (["forget", "29000x"], "CARD: '29000x' is not a card number"),
    (["forget", ZOE, "--scrub-log", "/nonexistent/kiosk.log"], "--scrub-log: /nonexistent/kiosk.log is not a file"),
])
def test_bad_card_or_log_is_one_line_and_nothing_is_lost(kiosk: Path, tmp_path: Path, capsys, argv, problem) -> None:
    code, out, err = run(capsys, "loyalty", "--config", str(kiosk), *argv)
    assert code == 2 and problem in err and err.count("\n") == 1 and "Traceback" not in err
    with LoyaltyStore(tmp_path / "loyalty.sqlite") as store:
        assert store.counts()["purchases"] == 5 and store.find_customer(ZOE) is not None
        assert store.get_meta(MODEL_META_KEY)


def test_prune_deletes_only_purchases_past_retention(kiosk: Path, tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "loyalty", "--config", str(kiosk), "prune")
    assert code == 0 and "2 purchases older than 730 days deleted" in out
    with LoyaltyStore(tmp_path / "loyalty.sqlite") as store:
        days = sorted(day for _c, day, _p in zip(*store.purchase_arrays()))
        assert len(days) == 3 and min(days) >= date.today().toordinal() - 730
        assert store.get_meta(MODEL_META_KEY) is None  # learnt again without the pruned purchases
    code, out, _ = run(capsys, "loyalty", "--config", str(kiosk), "prune")
    assert "0 purchases" in out


def test_kiosk_start_prunes_old_purchases(kiosk: Path, tmp_path: Path) -> None:
    from kiosk.config import load_config
    from kiosk.services.shop import open_shop

    config = load_config(kiosk)
    shop = open_shop(config, CardHasher(config.card_hash_key()))
    try:
        assert shop.store.counts()["purchases"] == 3
    finally:
        shop.close()
    db = sqlite3.connect(tmp_path / "loyalty.sqlite")
    assert db.execute("SELECT count(*) FROM purchases WHERE day < ?",
                      (date.today().toordinal() - 730,)).fetchone() == (0,)
    db.close()


def test_a_running_kiosk_prunes_on_its_worker_thread(kiosk: Path, tmp_path: Path, qtbot) -> None:
    from kiosk.app import KioskApp
    from kiosk.config import load_config

    config = load_config(kiosk)
    config = config.model_copy(update={"camera": config.camera.model_copy(update={"enabled": False})})
    app = KioskApp(config, fullscreen=False, size=(800, 600))
    qtbot.addWidget(app.window)
    try:
        app.start()
        assert app.loyalty.counts()["purchases"] == 3  # the start pruned
        with LoyaltyStore(tmp_path / "loyalty.sqlite") as store:  # an old purchase arrives by a later import
            store.add_purchases([(store.card_ids()[MAX], store.sku_ids()["TEA"], date.today().toordinal() - 731, 1)])
        assert app.loyalty.counts()["purchases"] == 4
        app.prune_now().join(10)
        assert app.loyalty.counts()["purchases"] == 3
    finally:
        app.stop()
