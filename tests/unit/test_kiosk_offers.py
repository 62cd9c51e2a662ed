"""The first (rules) offer engine, each rule shown on a purchase history written for it, and its model cache."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from kiosk.services import offer_model
from kiosk.services.loyalty import LoyaltyStore
from kiosk.services.offer_model import OfferModel, ShopperProfile
from kiosk.services.offers import OfferEngine
from kiosk.services.records import Offer, OfferRule

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
        rows += [(f"f-{s}", s, "star", 100, None, end + 1, end + 9, self.sku[s], None) for s in expired]
        self.store.replace_offers(rows)

    def engine(self, min_offers: int = 0) -> OfferEngine:
        return OfferEngine(self.store, min_offers=min_offers)


@pytest.fixture()
def shop(tmp_path: Path) -> Shop:
    shop = Shop(tmp_path / "loyalty.sqlite")
    yield shop
    shop.store.close()


def ids(offers: list) -> list[str]:
    return [o.offer_id for o in offers]


def test_consumable_due_for_repurchase_comes_first_with_a_reason(shop: Shop) -> None:
    anna = shop.customer("Anna", [(ago, ["COF"]) for ago in (36, 29, 22, 15, 8)])
    shop.offers("COF", "MLK", "BRD")
    offers = shop.engine().offers_for(anna, TODAY, 3)
    assert offers[0].offer_id == "o-COF" and offers[0].rule == "repurchase"
    assert offers[0].reason == "repurchase: buys Filter coffee every ~7 days (own interval), last 8 days ago"


def test_consumable_just_bought_is_not_offered(shop: Shop) -> None:
    anna = shop.customer("Anna", [(ago, ["COF"]) for ago in (30, 23, 16, 9, 2)])
    shop.offers("COF", "MLK", "BRD")
    assert "o-COF" not in ids(shop.engine().offers_for(anna, TODAY, 3))


def test_product_default_interval_when_the_shopper_has_too_few_gaps(shop: Shop) -> None:
    ben = shop.customer("Ben", [(20, ["PAS"]), (35, ["PAS"])])  # one gap; spaghetti's default is 14 days
    shop.offers("PAS", "MLK")
    first = shop.engine().offers_for(ben, TODAY, 2)[0]
    assert first.offer_id == "o-PAS" and "(usual interval)" in first.reason


def test_durable_just_bought_blocks_its_category(shop: Shop) -> None:
    ben = shop.customer("Ben", [(5, ["LAP"])])
    shop.offers("LAP", "LP2", "SLV", "MLK")
    offers = ids(shop.engine().offers_for(ben, TODAY, 5))
    assert "o-LAP" not in offers and "o-LP2" not in offers and "o-SLV" in offers


def test_durable_bought_long_ago_may_be_offered_again(shop: Shop) -> None:
    ben = shop.customer("Ben", [(1200, ["LAP"])])
    shop.offers("LAP", "MLK")
    assert "o-LAP" in ids(shop.engine().offers_for(ben, TODAY, 5))


def test_bought_together_is_learned_from_all_baskets(shop: Shop) -> None:
    for i in range(8):  # other shoppers: spaghetti and sauce together; milk and bread together; coffee alone
        shop.customer(f"P{i}", [(40 + i, ["PAS", "SAU"]), (60 + i, ["MLK", "BRD"]), (80 + i, ["COF"])])
    cleo = shop.customer("Cleo", [(3, ["PAS"])])
    shop.offers("SAU", "BRD", "GOU")
    offers = shop.engine().offers_for(cleo, TODAY, 3)
    assert offers[0].offer_id == "o-SAU" and offers[0].rule == "together"
    assert offers[0].reason.startswith("together: often in the same basket as Spaghetti")


def test_chance_co_occurrence_is_not_a_pair(shop: Shop) -> None:
    # milk is in every basket: appearing with it is no evidence of belonging together (lift 1)
    for i in range(10):
        shop.customer(f"P{i}", [(30, ["MLK", ["PAS", "SAU", "BRD", "COF", "GOU"][i % 5]])])
    model = OfferModel.from_store(shop.store)
    assert shop.sku["MLK"] not in model.neighbours


def test_liked_category_offer(shop: Shop) -> None:
    for i in range(6):
        shop.customer(f"P{i}", [(50, ["MLK"]), (51, ["BRD"]), (52, ["COF"])])  # make other items popular
    dora = shop.customer("Dora", [(ago, ["GOU", "BRI"]) for ago in (40, 33, 26, 19, 5)])
    shop.offers("MLK", "BRD", "COF", category_offers=("cheese",))
    offers = shop.engine().offers_for(dora, TODAY, 3)
    assert offers[0].offer_id == "c-cheese" and offers[0].rule == "category"
    assert offers[0].reason == "category: 100% of their purchases are cheese"


def test_liked_category_product_never_bought(shop: Shop) -> None:
    dora = shop.customer("Dora", [(ago, ["GOU", "BRI"]) for ago in (40, 33, 26, 19, 2)])
    shop.offers("FET", "MLK", "BRD")
    first = shop.engine().offers_for(dora, TODAY, 3)[0]
    assert (first.offer_id, first.rule) == ("o-FET", "category")


def test_new_shopper_gets_popular_offers(shop: Shop) -> None:
    for i in range(5):
        shop.customer(f"P{i}", [(10, ["BRD"])] + ([(12, ["MLK"])] if i < 3 else []))
    new = shop.customer("New", [])
    shop.offers("MLK", "BRD", "COF")
    offers = shop.engine().offers_for(new, TODAY, 3)
    assert ids(offers) == ["o-BRD", "o-MLK", "o-COF"] and {o.rule for o in offers} == {"popular"}
    assert offers[0].reason == "popular: bought by 5 shoppers"


def test_only_current_offers(shop: Shop) -> None:
    anna = shop.customer("Anna", [(ago, ["COF"]) for ago in (36, 29, 22, 15, 8)])
    shop.offers("MLK", expired=("COF",))
    assert ids(shop.engine().offers_for(anna, TODAY, 5)) == ["o-MLK"]
    assert ids(shop.engine().guest_offers(TODAY, 5)) == ["o-MLK"]


def test_limit_diversity_and_minimum(shop: Shop) -> None:
    dora = shop.customer("Dora", [(ago, ["MLK"]) for ago in (40, 33, 26, 19)])
    shop.offers("GOU", "BRI", "FET", "COF")
    engine = shop.engine(min_offers=0)
    offers = engine.offers_for(dora, TODAY, 3)
    assert sum(o.category == "cheese" for o in offers) <= 2 and len(offers) == 3
    assert len(shop.engine(min_offers=4).offers_for(dora, TODAY, 4)) == 4  # diversity gives way to the minimum
    assert engine.offers_for(dora, TODAY, 0) == []


def test_catalogue_imported_while_running_is_used_at_the_next_scan(shop: Shop) -> None:
    new = shop.customer("New", [])
    shop.offers("MLK")
    engine = shop.engine()
    assert ids(engine.offers_for(new, TODAY, 3)) == ["o-MLK"]
    shop.offers("BRD")
    assert ids(engine.offers_for(new, TODAY, 3)) == ["o-BRD"]


def test_guest_offers_prefer_discounts(shop: Shop) -> None:
    shop.customer("P", [(3, ["MLK", "BRD"])])
    start, end = T - 1, T + 1
    shop.store.replace_offers([
        ("a", "Milk", "drinks", 99, None, start, end, shop.sku["MLK"], None),
        ("b", "Bread -40%", "home", None, 40, start, end, shop.sku["BRD"], None),
    ])
    offers = shop.engine().guest_offers(TODAY, 5)
    assert ids(offers) == ["b", "a"] and offers[0].reason.startswith("guest: popular")


def test_model_is_cached_in_the_store_until_purchases_change(shop: Shop) -> None:
    for i in range(5):
        shop.customer(f"P{i}", [(10 + i, ["PAS", "SAU"])])
    learned = OfferModel.load_or_learn(shop.store)
    cached = OfferModel.load_or_learn(shop.store)
    assert cached.neighbours == learned.neighbours and cached.buyers == learned.buyers
    shop.customer("Late", [(1, ["MLK"])])
    assert shop.sku["MLK"] in OfferModel.load_or_learn(shop.store).buyers


def test_dense_and_sparse_pair_counting_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    customer = rng.integers(1, 200, 5000)
    day = rng.integers(700000, 700030, 5000)
    product = rng.integers(1, 12, 5000)
    product[::3] = 4  # a product that co-occurs with everything
    dense = offer_model._neighbours(customer, day, product)
    monkeypatch.setattr(offer_model, "DENSE_PAIR_TABLE_MAX", 0)
    assert offer_model._neighbours(customer, day, product) == dense


def test_a_shopper_profile_is_a_typed_value_with_enum_rules(shop: Shop) -> None:
    """score_products gives a ShopperProfile (no anonymous tuple) whose scores carry OfferRule members."""
    anna = shop.customer("Anna", [(36, ["COF"]), (29, ["COF"]), (22, ["COF"]), (15, ["COF"]), (8, ["COF"]), (5, ["LAP"])])
    shop.offers("COF", "LAP")
    model = OfferModel.from_store(shop.store)
    profile = model.score_products(shop.store.history(anna), TODAY.toordinal())
    assert isinstance(profile, ShopperProfile)
    assert profile.scores[shop.store.sku_ids()["COF"]].rule is OfferRule.REPURCHASE
    assert shop.store.sku_ids()["LAP"] in profile.blocked_products and "laptops" in profile.blocked_categories
    assert all(type(s.rule) is OfferRule for s in profile.scores.values())
    offers = shop.engine().offers_for(anna, TODAY, 4)
    assert offers and all(type(o.rule) is OfferRule for o in offers)


def test_an_offer_read_back_as_text_gets_its_rule_as_the_enum() -> None:
    base = dict(offer_id="o1", title="T", icon="star", price_cents=100, discount_percent=None,
                valid_until=TODAY, category="c", reason="r")
    assert Offer(**base, rule="together").rule is OfferRule.TOGETHER  # e.g. a snapshot row
    with pytest.raises(ValueError):
        Offer(**base, rule="cheapest")
