"""The ranked offer engine in a real store: product rules, reasons, fallbacks, the model cache, prices."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from kiosk.services import loyalty_csv, offer_ranking_model
from kiosk.services.loyalty import LoyaltyStore
from kiosk.services.loyalty_csv import ImportFileError
from kiosk.services.offer_ranker import PickRules
from kiosk.services.ranked_engine import RankedOfferEngine
from kiosk.services.records import Offer, OfferRule, ReasonKind

TODAY = date(2025, 6, 15)
T = TODAY.toordinal()

PRODUCTS = [
    ("COF", "Filter coffee", "coffee", "drinks", "consumable", 7.0, None),
    ("PAS", "Spaghetti", "pasta", "pantry", "consumable", 14.0, None),
    ("SAU", "Tomato sauce", "sauces", "pantry", "consumable", 14.0, None),
    ("GOU", "Gouda", "cheese", "dairy", "consumable", 7.0, None),
    ("BRI", "Brie", "cheese", "dairy", "consumable", 7.0, None),
    ("FET", "Feta", "cheese", "dairy", "consumable", 7.0, None),
    ("MLK", "Milk", "milk", "dairy", "consumable", 4.0, None),
    ("BRD", "Bread", "bread", "bakery", "consumable", 3.0, None),
    ("LAP", "Laptop", "laptops", "electronics", "durable", None, 1095),
    ("LP2", "Laptop Pro", "laptops", "electronics", "durable", None, 1095),
    ("SLV", "Laptop sleeve", "laptop accessories", "electronics", "durable", None, 365),
]
ALL = [p[0] for p in PRODUCTS]


class Shop:
    """A real store in a tmp dir, filled with hand-written customers and baskets."""

    def __init__(self, path: Path) -> None:
        self.store = LoyaltyStore(path)
        self.store.add_products(PRODUCTS)
        self.sku = self.store.sku_ids()
        self._next_card = 10_000_000

    def customer(self, name: str, baskets: list[tuple[int, list[str]]]) -> int:
        """Baskets as (days ago, [skus]); returns the customer id."""
        self._next_card += 1
        card = str(self._next_card)
        self.store.add_customers([(card, name, "en")])
        cid = self.store.card_ids()[card]
        self.store.add_purchases([(cid, self.sku[s], T - ago, 1) for ago, skus in baskets for s in skus])
        return cid

    def offers(self, *skus: str, category_offers: tuple[str, ...] = (), expired: tuple[str, ...] = ()) -> None:
        start, end = (TODAY - timedelta(days=5)).toordinal(), (TODAY + timedelta(days=5)).toordinal()
        rows = [(f"o-{s}", s, "star", 100, None, start, end, self.sku[s], None) for s in skus]
        rows += [(f"c-{c}", f"All {c}", "star", None, 20, start, end, None, c) for c in category_offers]
        rows += [(f"x-{s}", s, "star", 100, None, start - 30, start - 10, self.sku[s], None) for s in expired]
        self.store.replace_offers(rows)

    def crowd(self, pairs: list[list[str]], times: int = 6) -> None:
        """Other shoppers who buy these products together."""
        for i in range(times):
            self.customer(f"crowd{i}", [(20 + d, basket) for d, basket in enumerate(pairs)])

    def engine(self, min_offers: int = 0, rules: PickRules = PickRules()) -> RankedOfferEngine:
        return RankedOfferEngine(self.store, min_offers=min_offers, rules=rules, today=TODAY)


@pytest.fixture()
def shop(tmp_path: Path) -> Shop:
    shop = Shop(tmp_path / "loyalty.sqlite")
    yield shop
    shop.store.close()


def ids(offers: list[Offer]) -> list[str]:
    return [o.offer_id for o in offers]


def test_habit_due_again_comes_first_with_its_cycle(shop: Shop) -> None:
    anna = shop.customer("Anna", [(28, ["COF", "BRD"]), (21, ["COF"]), (14, ["COF", "MLK"]), (7, ["COF"])])
    shop.crowd([["PAS", "SAU"], ["GOU"]])
    shop.offers(*ALL)
    offers = shop.engine().offers_for(anna, TODAY, 3)
    assert offers[0].offer_id == "o-COF" and offers[0].rule == OfferRule.REPURCHASE
    assert offers[0].why.kind is ReasonKind.CYCLE and offers[0].why.days == 7
    assert "every 7 days" in offers[0].reason  # the staff log line


def test_durable_just_bought_blocks_its_category(shop: Shop) -> None:
    ben = shop.customer("Ben", [(40, ["LAP"]), (5, ["LAP", "SLV"])])
    shop.crowd([["LAP", "LP2"], ["LP2"]])
    shop.offers(*ALL)
    offered = ids(shop.engine(min_offers=4).offers_for(ben, TODAY, 4))
    assert "o-LAP" not in offered and "o-LP2" not in offered and len(offered) == 4


def test_only_offers_valid_today(shop: Shop) -> None:
    cid = shop.customer("C", [(14, ["COF"]), (7, ["COF"])])
    shop.offers("MLK", expired=("COF",))
    assert ids(shop.engine().offers_for(cid, TODAY, 4)) == ["o-MLK"]


def test_category_cap_and_discovery_slots(shop: Shop) -> None:
    cheese = shop.customer("Clara", [(d, ["GOU", "BRI", "FET", "MLK"]) for d in (28, 21, 14, 7)])
    shop.crowd([["PAS", "SAU"], ["BRD", "COF"]])
    shop.offers(*ALL)
    capped = shop.engine(rules=PickRules(category_cap=2)).offers_for(cheese, TODAY, 4)
    assert sum(o.category == "cheese" for o in capped) == 2
    uncapped = shop.engine(rules=PickRules(category_cap=0)).offers_for(cheese, TODAY, 4)
    assert sum(o.category == "cheese" for o in uncapped) == 3
    discovery = shop.engine(rules=PickRules(category_cap=0, discovery_share=0.5)).offers_for(cheese, TODAY, 4)
    bought = {"o-GOU", "o-BRI", "o-FET", "o-MLK"}
    assert sum(o.offer_id not in bought for o in discovery) == 2 and len(discovery) == 4


def test_goes_with_names_the_product_of_the_last_basket(shop: Shop) -> None:
    shop.crowd([["PAS", "SAU"], ["PAS", "SAU", "BRD"]], times=8)
    cid = shop.customer("Dan", [(30, ["COF"]), (2, ["PAS"])])
    shop.offers("SAU", "FET", "LP2")
    offers = shop.engine().offers_for(cid, TODAY, 3)
    sauce = next(o for o in offers if o.offer_id == "o-SAU")
    assert sauce.rule == OfferRule.TOGETHER and sauce.why.kind is ReasonKind.GOES_WITH
    assert sauce.why.anchor == "Spaghetti" and offers[0] is sauce


def test_member_without_history_gets_popular_offers_silently(shop: Shop) -> None:
    shop.crowd([["MLK", "BRD"], ["MLK"]])
    new = shop.customer("New", [])
    shop.offers(*ALL)
    offers = shop.engine(min_offers=3).offers_for(new, TODAY, 4)
    assert ids(offers)[0] == "o-MLK" and all(o.why.kind is ReasonKind.POPULAR for o in offers)


def test_purchase_of_a_product_newer_than_the_model_is_ignored(shop: Shop) -> None:
    cid = shop.customer("E", [(14, ["COF"]), (7, ["COF"])])
    shop.offers(*ALL)
    engine = shop.engine()
    shop.store.add_products([("NEW", "New thing", "new", "misc", "consumable", None, None)])
    shop.store.add_purchases([(cid, shop.store.sku_ids()["NEW"], T - 1, 1)])
    assert ids(engine.offers_for(cid, TODAY, 2))[0] == "o-COF"


def test_whole_category_offer_for_a_category_lover(shop: Shop) -> None:
    cid = shop.customer("F", [(d, ["GOU", "BRI"]) for d in (21, 14, 7)])
    shop.offers("COF", category_offers=("cheese",))
    offers = shop.engine().offers_for(cid, TODAY, 2)
    assert offers[0].offer_id == "c-cheese" and offers[0].category == "cheese"


def test_min_offers_fill_and_guests(shop: Shop) -> None:
    shop.crowd([["MLK", "BRD"], ["MLK", "COF"]])
    cid = shop.customer("G", [(7, ["MLK"])])
    shop.offers("MLK", "BRD", "COF", "GOU")
    assert len(shop.engine(min_offers=3).offers_for(cid, TODAY, 4)) >= 3
    guest = shop.engine().guest_offers(TODAY, 2)
    assert ids(guest)[0] == "o-MLK" and len(guest) == 2


def test_model_is_cached_until_purchases_change(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    shop.customer("H", [(14, ["COF"]), (7, ["COF"])])
    shop.offers(*ALL)
    calls: list[int] = []
    real = offer_ranking_model.learn
    monkeypatch.setattr(offer_ranking_model, "learn", lambda store, today: calls.append(today) or real(store, today))
    shop.engine()
    shop.engine()
    assert len(calls) == 1
    shop.customer("I", [(3, ["MLK"])])
    engine = shop.engine()
    assert len(calls) == 2 and not engine.model.learned_weights  # too few members: the shipped weights
    shop.store.set_meta(offer_ranking_model.MODEL_META_KEY, "{not json")
    shop.engine()
    assert len(calls) == 3


@pytest.mark.parametrize("sample", [100, 10], ids=["all members", "a sample of members"])
def test_a_store_with_enough_members_learns_its_own_weights(shop: Shop, monkeypatch: pytest.MonkeyPatch,
                                                            sample: int) -> None:
    monkeypatch.setattr(offer_ranking_model, "MIN_LEARN_MEMBERS", 5)
    monkeypatch.setattr(offer_ranking_model, "MAX_LEARN_MEMBERS", sample)
    for i in range(12):
        habit = ["COF", "MLK"] if i % 2 else ["GOU", "BRD"]
        shop.customer(f"m{i}", [(d, habit + ([ALL[(i + d) % 8]])) for d in (60, 45, 33, 20, 9)])
    shop.offers(*ALL)
    engine = shop.engine()
    assert engine.model.learned_weights
    cid = shop.store.card_ids()[str(10_000_002)]  # m1: coffee and milk habit
    assert {"o-COF", "o-MLK"} <= set(ids(engine.offers_for(cid, TODAY, 3)))


def test_regular_price_is_imported_and_struck(shop: Shop, tmp_path: Path) -> None:
    csv_path = tmp_path / "offers.csv"
    csv_path.write_text(
        "offer_id,title,icon,price,discount_percent,valid_from,valid_until,sku,category,regular_price\n"
        "o1,Coffee,coffee,3.99,,2025-06-01,2025-06-30,COF,,5.49\n"
        "o2,Milk,drinks,,20,2025-06-01,2025-06-30,MLK,,1.20\n"
        "o3,Bread,home,1.50,,2025-06-01,2025-06-30,BRD,,\n", encoding="utf-8")
    with shop.store.transaction():
        loyalty_csv.import_offers(shop.store, csv_path)
    cid = shop.customer("J", [(7, ["COF", "MLK", "BRD"])])
    offers = {o.offer_id: o for o in shop.engine().offers_for(cid, TODAY, 3)}
    assert offers["o1"].struck_price_cents == 549 and offers["o1"].offer_price_cents == 399
    assert offers["o2"].offer_price_cents == 96 and offers["o2"].struck_price_cents == 120
    assert offers["o3"].struck_price_cents is None


@pytest.mark.parametrize("value, problem", [("abc", "is not a price"), ("inf", "is not a price"),
                                            ("-1", "is out of range")])
def test_bad_regular_price_names_row_and_column(shop: Shop, tmp_path: Path, value: str, problem: str) -> None:
    csv_path = tmp_path / "offers.csv"
    csv_path.write_text(
        "offer_id,title,icon,price,valid_from,valid_until,sku,regular_price\n"
        f"o1,Coffee,coffee,3.99,2025-06-01,2025-06-30,COF,{value}\n", encoding="utf-8")
    with pytest.raises(ImportFileError) as caught:
        loyalty_csv.import_offers(shop.store, csv_path)
    assert "row 2, column regular_price" in str(caught.value) and problem in str(caught.value)
    assert shop.store.catalogue() == []


def test_population_and_single_member_paths_agree(shop: Shop) -> None:
    """The kiosk ranks one member with the same code central scoring uses for everyone."""
    from kiosk.services.offer_features import build_candidates
    from kiosk.services.offer_ranker import score
    from kiosk.services.offer_ranking_model import store_log

    shop.crowd([["PAS", "SAU"], ["MLK", "BRD"]])
    anna = shop.customer("Anna", [(28, ["COF", "BRD"]), (21, ["COF"]), (9, ["COF", "PAS"])])
    shop.offers(*ALL)
    engine = shop.engine()
    log, _ = store_log(shop.store, shop.store.products())
    everyone = np.unique(log.customer)
    table = build_candidates(log, everyone, np.full(len(everyone), T), engine.model.stats)
    scores = score(table, engine.model.weights)
    mine = table.member == int(np.flatnonzero(everyone == anna)[0])
    population = sorted(zip(-scores[mine], table.product[mine]))
    single = engine.rank_member(shop.store.history(anna), TODAY, np.ones(engine.model.n_products, dtype=bool))
    assert [p for _, p in population] == [r.product_id for r in single]
    np.testing.assert_allclose([-s for s, _ in population], [r.score for r in single])


def test_empty_store_and_empty_catalogue(tmp_path: Path) -> None:
    with LoyaltyStore(tmp_path / "empty.sqlite") as store:
        engine = RankedOfferEngine(store, today=TODAY)
        assert engine.guest_offers(TODAY, 3) == []
        store.add_products(PRODUCTS[:1])
        store.add_customers([("123", "X", None)])
        cid = store.card_ids()["123"]
        assert RankedOfferEngine(store, today=TODAY).offers_for(cid, TODAY, 3) == []
        store.add_purchases([(cid, store.sku_ids()["COF"], T - 3, 1)])
        assert RankedOfferEngine(store, today=TODAY).offers_for(cid, TODAY, 3) == []  # no catalogue yet
