"""Deterministic fictional loyalty data: products, customers with habits, baskets and an offer catalogue.

Used three ways: `moodkiosk demo` seeds an empty store on first run (dates relative to today, through the
same CSV import a store would use), `moodkiosk bench-offers` bulk-builds a large store, and
`python -m kiosk.demo_data.generate --out DIR` writes the CSV files to look at or import elsewhere.
Everything here is invented; no real shopper is in it.
"""
from __future__ import annotations

import argparse
import csv
import logging
import os
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Iterator

from kiosk.services.cards import ean13_check_digit, luhn_check_digit
from kiosk.services import loyalty_csv
from kiosk.services.loyalty import CustomerRow, LoyaltyStore, OfferRow, OfferTitle, ProductRow, PurchaseRow, RegularPrice

logger = logging.getLogger(__name__)

SEED = 20240611
DEMO_META_KEY = "demo_seeded_on"

# sku, name, category, department, kind, repurchase_days | durable_days, icon, price
PRODUCTS: tuple[tuple[str, str, str, str, str, int, str, float], ...] = (
    ("C001", "Filter coffee 500 g", "coffee", "drinks", "consumable", 10, "coffee", 5.49),
    ("C002", "Espresso beans 1 kg", "coffee", "drinks", "consumable", 21, "coffee", 14.99),
    ("C003", "Green tea 20 bags", "tea", "drinks", "consumable", 20, "tea", 2.29),
    ("C004", "Whole milk 1 l", "milk", "dairy", "consumable", 4, "drinks", 1.19),
    ("C005", "Oat drink 1 l", "milk", "dairy", "consumable", 6, "drinks", 1.99),
    ("C006", "Butter 250 g", "butter", "dairy", "consumable", 10, "home", 2.39),
    ("C007", "Natural yogurt 500 g", "yogurt", "dairy", "consumable", 5, "health", 0.99),
    ("C008", "Fruit yogurt 4-pack", "yogurt", "dairy", "consumable", 6, "health", 1.79),
    ("C009", "Mountain cheese 200 g", "cheese", "dairy", "consumable", 9, "star", 3.49),
    ("C010", "Gouda slices 150 g", "cheese", "dairy", "consumable", 7, "star", 1.89),
    ("C011", "Goat cheese 150 g", "cheese", "dairy", "consumable", 14, "star", 2.99),
    ("C012", "Free-range eggs 10", "eggs", "dairy", "consumable", 8, "home", 3.29),
    ("C013", "Sourdough bread", "bread", "bakery", "consumable", 4, "home", 3.49),
    ("C014", "Whole-grain rolls 6", "bread", "bakery", "consumable", 3, "home", 1.99),
    ("C015", "Croissants 4", "pastry", "bakery", "consumable", 7, "star", 2.49),
    ("C016", "Apple cake", "pastry", "bakery", "consumable", 14, "gift", 4.99),
    ("C017", "Bananas 1 kg", "fruit", "fresh produce", "consumable", 5, "summer", 1.69),
    ("C018", "Apples 1.5 kg", "fruit", "fresh produce", "consumable", 7, "summer", 2.99),
    ("C019", "Strawberries 500 g", "fruit", "fresh produce", "consumable", 7, "summer", 3.99),
    ("C020", "Tomatoes 500 g", "vegetables", "fresh produce", "consumable", 5, "garden", 1.99),
    ("C021", "Salad mix 200 g", "vegetables", "fresh produce", "consumable", 4, "garden", 1.79),
    ("C022", "Carrots 1 kg", "vegetables", "fresh produce", "consumable", 8, "garden", 1.29),
    ("C023", "Potatoes 2.5 kg", "vegetables", "fresh produce", "consumable", 12, "garden", 2.99),
    ("C024", "Chicken breast 400 g", "meat", "meat and fish", "consumable", 7, "star", 5.99),
    ("C025", "Minced beef 500 g", "meat", "meat and fish", "consumable", 9, "star", 4.99),
    ("C026", "Salmon fillet 250 g", "fish", "meat and fish", "consumable", 12, "star", 6.49),
    ("C027", "Spaghetti 500 g", "pasta", "pantry", "consumable", 12, "home", 1.29),
    ("C028", "Tomato pasta sauce", "sauces", "pantry", "consumable", 12, "home", 2.19),
    ("C029", "Grated parmesan 100 g", "cheese", "dairy", "consumable", 18, "star", 2.79),
    ("C030", "Basmati rice 1 kg", "rice", "pantry", "consumable", 20, "home", 2.99),
    ("C031", "Olive oil 750 ml", "oil", "pantry", "consumable", 40, "home", 7.99),
    ("C032", "Muesli 750 g", "cereals", "pantry", "consumable", 14, "health", 3.99),
    ("C033", "Strawberry jam", "spreads", "pantry", "consumable", 25, "home", 2.49),
    ("C034", "Hazelnut spread", "spreads", "pantry", "consumable", 20, "gift", 3.29),
    ("C035", "Dark chocolate", "chocolate", "sweets and snacks", "consumable", 10, "gift", 1.49),
    ("C036", "Milk chocolate", "chocolate", "sweets and snacks", "consumable", 9, "gift", 1.29),
    ("C037", "Potato crisps", "snacks", "sweets and snacks", "consumable", 8, "star", 1.99),
    ("C038", "Salted peanuts", "snacks", "sweets and snacks", "consumable", 12, "star", 1.79),
    ("C039", "Mineral water 6 x 1.5 l", "water", "drinks", "consumable", 7, "drinks", 3.49),
    ("C040", "Orange juice 1 l", "juice", "drinks", "consumable", 6, "drinks", 2.29),
    ("C041", "Lager 6-pack", "beer", "drinks", "consumable", 9, "drinks", 5.49),
    ("C042", "Red wine", "wine", "drinks", "consumable", 14, "gift", 7.99),
    ("C043", "Prosecco", "wine", "drinks", "consumable", 30, "gift", 8.99),
    ("C044", "Frozen pizza", "frozen", "frozen", "consumable", 8, "frozen", 3.49),
    ("C045", "Frozen berries 500 g", "frozen", "frozen", "consumable", 14, "frozen", 3.99),
    ("C046", "Vanilla ice cream", "frozen", "frozen", "consumable", 12, "frozen", 4.49),
    ("C047", "Laundry detergent", "laundry", "household", "consumable", 35, "home", 9.99),
    ("C048", "Dishwasher tabs 40", "cleaning", "household", "consumable", 30, "home", 7.49),
    ("C049", "Kitchen towels 4", "paper", "household", "consumable", 18, "home", 3.29),
    ("C050", "Toilet paper 10", "paper", "household", "consumable", 16, "home", 4.99),
    ("C051", "Shampoo", "hair care", "personal care", "consumable", 30, "hair", 3.49),
    ("C052", "Toothpaste", "dental care", "personal care", "consumable", 28, "care", 1.99),
    ("C053", "Shower gel", "body care", "personal care", "consumable", 24, "care", 2.49),
    ("C054", "Hand cream", "body care", "personal care", "consumable", 45, "care", 3.99),
    ("C055", "Dog food 4 kg", "pet food", "pet", "consumable", 21, "star", 12.99),
    ("C056", "Cat food 12 pouches", "pet food", "pet", "consumable", 10, "star", 6.99),
    ("C057", "Baby porridge", "baby food", "baby", "consumable", 9, "care", 2.79),
    ("C058", "Nappies 44", "baby care", "baby", "consumable", 12, "care", 11.99),
    ("C059", "Descaler for coffee machines", "cleaning", "household", "consumable", 60, "tools", 4.99),
    ("C060", "Flowers bouquet", "flowers", "garden", "consumable", 14, "flowers", 6.99),
    ("D001", "Laptop 14 inch", "laptops", "electronics", "durable", 1095, "computer", 749.00),
    ("D002", "Tablet 11 inch", "tablets", "electronics", "durable", 1095, "computer", 399.00),
    ("D003", "Wireless headphones", "headphones", "electronics", "durable", 730, "music", 129.00),
    ("D004", "Smartphone", "phones", "electronics", "durable", 730, "phone", 349.00),
    ("D005", "LED TV 50 inch", "televisions", "electronics", "durable", 1825, "electronics", 499.00),
    ("D006", "Laptop sleeve", "laptop accessories", "electronics", "durable", 365, "computer", 24.99),
    ("D007", "Coffee machine", "coffee machines", "kitchen appliances", "durable", 1460, "coffee", 279.00),
    ("D008", "Electric kettle", "kettles", "kitchen appliances", "durable", 1095, "tea", 34.99),
    ("D009", "Toaster", "toasters", "kitchen appliances", "durable", 1095, "home", 29.99),
    ("D010", "Blender", "blenders", "kitchen appliances", "durable", 1095, "tools", 59.99),
)

GERMAN_NAMES = {
    "C001": "Filterkaffee 500 g", "C002": "Espressobohnen 1 kg", "C003": "Grüner Tee 20 Beutel",
    "C004": "Vollmilch 1 l", "C005": "Haferdrink 1 l", "C006": "Butter 250 g", "C007": "Naturjoghurt 500 g",
    "C008": "Fruchtjoghurt 4er-Pack", "C009": "Bergkäse 200 g", "C010": "Gouda in Scheiben 150 g",
    "C011": "Ziegenkäse 150 g", "C012": "Freilandeier 10 Stück", "C013": "Sauerteigbrot",
    "C014": "Vollkornbrötchen 6 Stück", "C015": "Croissants 4 Stück", "C016": "Apfelkuchen",
    "C017": "Bananen 1 kg", "C018": "Äpfel 1,5 kg", "C019": "Erdbeeren 500 g", "C020": "Tomaten 500 g",
    "C021": "Salatmischung 200 g", "C022": "Karotten 1 kg", "C023": "Kartoffeln 2,5 kg",
    "C024": "Hähnchenbrust 400 g", "C025": "Rinderhack 500 g", "C026": "Lachsfilet 250 g",
    "C027": "Spaghetti 500 g", "C028": "Tomatensoße", "C029": "Geriebener Parmesan 100 g",
    "C030": "Basmatireis 1 kg", "C031": "Olivenöl 750 ml", "C032": "Müsli 750 g", "C033": "Erdbeerkonfitüre",
    "C034": "Nuss-Nougat-Creme", "C035": "Zartbitterschokolade", "C036": "Vollmilchschokolade",
    "C037": "Kartoffelchips", "C038": "Gesalzene Erdnüsse", "C039": "Mineralwasser 6 x 1,5 l",
    "C040": "Orangensaft 1 l", "C041": "Lagerbier 6er-Pack", "C042": "Rotwein", "C043": "Prosecco",
    "C044": "Tiefkühlpizza", "C045": "TK-Beeren 500 g", "C046": "Vanilleeis", "C047": "Waschmittel",
    "C048": "Spülmaschinentabs 40 Stück", "C049": "Küchenrollen 4 Stück", "C050": "Toilettenpapier 10 Rollen",
    "C051": "Shampoo", "C052": "Zahnpasta", "C053": "Duschgel", "C054": "Handcreme", "C055": "Hundefutter 4 kg",
    "C056": "Katzenfutter 12 Beutel", "C057": "Babybrei", "C058": "Windeln 44 Stück",
    "C059": "Entkalker für Kaffeemaschinen", "C060": "Blumenstrauß", "D001": "Laptop 14 Zoll",
    "D002": "Tablet 11 Zoll", "D003": "Kabellose Kopfhörer", "D004": "Smartphone", "D005": "LED-Fernseher 50 Zoll",
    "D006": "Laptoptasche", "D007": "Kaffeemaschine", "D008": "Wasserkocher", "D009": "Toaster",
    "D010": "Standmixer",
}

# Things people buy together (the generator puts them in the same basket), for "bought together".
BUNDLES: tuple[tuple[str, ...], ...] = (
    ("C027", "C028", "C029"),        # spaghetti, sauce, parmesan
    ("C001", "C004", "C015"),        # coffee, milk, croissants
    ("C002", "C005"),                # espresso, oat drink
    ("C041", "C037", "C038"),        # beer, crisps, peanuts
    ("C013", "C006", "C033"),        # bread, butter, jam
    ("C024", "C030", "C020"),        # chicken, rice, tomatoes
    ("C042", "C009", "C011"),        # red wine, cheeses
    ("C019", "C046"),                # strawberries, ice cream
    ("C057", "C058"),                # baby porridge, nappies
    ("C032", "C007", "C017"),        # muesli, yogurt, bananas
    ("D001", "D006"),                # laptop, sleeve
    ("D007", "C059", "C002"),        # coffee machine, descaler, espresso beans
)

FIRST_NAMES = (
    ("Anna", "de"), ("Ben", "en"), ("Clara", "en"), ("David", "de"), ("Emma", "en"), ("Felix", "de"),
    ("Greta", "de"), ("Hannah", "en"), ("Ian", "en"), ("Jana", "de"), ("Karim", "en"), ("Lena", "de"),
    ("Mia", "de"), ("Noah", "en"), ("Olivia", "en"), ("Paul", "de"), ("Quinn", "en"), ("Rosa", "de"),
    ("Samir", "en"), ("Tara", "en"), ("Uwe", "de"), ("Vera", "de"), ("William", "en"), ("Yusuf", "de"),
    ("Zoe", "en"), ("Jonas", "de"), ("Leonie", "de"), ("Amir", "en"), ("Sofia", "en"), ("Lukas", "de"),
)


@dataclass(frozen=True, slots=True)
class DemoCard:
    """A demo card number with what it shows, printed in kiosk/README.md."""

    card_id: str
    first_name: str
    shows: str


@dataclass
class DemoData:
    products: list[tuple[str, str, str, str, str, float | None, int | None]]
    customers: list[tuple[str, str, str | None]]
    purchases: list[tuple[str, str, int]]  # card_id, sku, day ordinal (quantity 1)
    offers: list[tuple[str, str, str, int | None, int | None, int, int, str | None, str | None]]
    cards: list[DemoCard]


def card_number(n: int) -> str:
    """EAN-13 loyalty card number in the in-store prefix range 29 (fictional)."""
    body = f"29{n:010d}"
    return body + ean13_check_digit(body)


def luhn_card_number(n: int) -> str:
    body = f"6012{n:011d}"
    return body + luhn_check_digit(body)


def product_rows() -> list[tuple[str, str, str, str, str, float | None, int | None]]:
    rows = []
    for sku, name, category, department, kind, days, _icon, _price in PRODUCTS:
        consumable = kind == "consumable"
        rows.append((sku, name, category, department, kind, float(days) if consumable else None,
                     None if consumable else days))
    return rows


def offer_rows(today: date) -> list[tuple[str, str, str, int | None, int | None, int, int, str | None, str | None]]:
    """A current catalogue: about two thirds of the products on offer, plus a few category offers and one expired.

    Titles are names only: the screen shows the price or discount beside them.
    """
    rng = random.Random(SEED + 1)
    start, end = (today - timedelta(days=7)).toordinal(), (today + timedelta(days=21)).toordinal()
    rows = []
    for i, (sku, name, _category, _department, _kind, _days, icon, price) in enumerate(PRODUCTS):
        if i % 3 == 2 and not sku.startswith("D00"):
            continue
        if i % 2:
            discount = rng.choice((10, 15, 20, 25, 30))
            rows.append((f"O{sku}", name, icon, None, discount, start, end, sku, None))
        else:
            offer_price = round(price * rng.choice((0.7, 0.75, 0.8, 0.85)) * 100) - 1
            rows.append((f"O{sku}", name, icon, max(offer_price, 9), None, start, end, sku, None))
    rows.append(("OCAT-cheese", "All cheese", "star", None, 20, start, end, None, "cheese"))
    rows.append(("OCAT-fruit", "All fresh fruit", "summer", None, 15, start, end, None, "fruit"))
    rows.append(("OCAT-care", "Body care: 2 for 1", "care", None, 50, start, end, None, "body care"))
    past = (today - timedelta(days=30)).toordinal(), (today - timedelta(days=10)).toordinal()
    rows.append(("OEXPIRED", "Last month's BBQ week", "summer", None, 30, past[0], past[1], "C025", None))
    return rows


def german_titles() -> dict[str, str]:
    """offer_id -> German title of every demo offer."""
    titles = {f"O{sku}": name for sku, name in GERMAN_NAMES.items()}
    titles.update({"OCAT-cheese": "Alle Käsesorten", "OCAT-fruit": "Alles frische Obst",
                   "OCAT-care": "Körperpflege: 2 für 1", "OEXPIRED": "Grillwoche vom letzten Monat"})
    return titles


def _habit_purchases(
    rng: random.Random, card: str, favourites: list[str], today: date, days_back: int, visits_every: float
) -> Iterator[tuple[str, str, int]]:
    """Baskets of a shopper who buys each favourite at their own rhythm, bundles together, a few extras."""
    intervals = {sku: _interval(sku) * rng.uniform(0.7, 1.4) for sku in favourites}
    next_due = {sku: today.toordinal() - days_back + rng.uniform(0, intervals[sku]) for sku in favourites}
    bundle_of = {sku: b for b in BUNDLES for sku in b}
    day = today.toordinal() - days_back
    consumables = [p[0] for p in PRODUCTS if p[4] == "consumable"]
    while day < today.toordinal():
        basket = {sku for sku in favourites if next_due[sku] <= day}
        for sku in list(basket):
            next_due[sku] = day + intervals[sku]
            if sku in bundle_of and rng.random() < 0.6:
                basket.update(s for s in bundle_of[sku] if not s.startswith("D"))
        basket.update(rng.sample(consumables, rng.randint(0, 2)))
        for sku in sorted(basket):
            yield card, sku, day
        day += max(1, round(rng.expovariate(1 / visits_every)))  # at most one basket a day


def _history_of_size(
    rng: random.Random, card: str, favourites: list[str], today: date, days_back: int, target: float
) -> list[tuple[str, str, int]]:
    """A habit history of about `target` lines: the visit rhythm is corrected once from a first try."""
    state = rng.getstate()
    visits_every = 7.0
    rows = list(_habit_purchases(rng, card, favourites, today, days_back, visits_every))
    for _ in range(3):
        if not rows or abs(len(rows) - target) <= 0.1 * target:
            break
        visits_every = min(max(visits_every * len(rows) / max(target, 1.0), 0.2), 365.0)
        rng.setstate(state)
        rows = list(_habit_purchases(rng, card, favourites, today, days_back, visits_every))
    return rows


def _interval(sku: str) -> int:
    return next(p[5] for p in PRODUCTS if p[0] == sku)


def _personas(today: date) -> tuple[list[tuple[str, str, str | None]], list[tuple[str, str, int]], list[DemoCard]]:
    """Hand-written shoppers whose offers show one rule each (fixed relative to today)."""
    t = today.toordinal()
    customers, purchases, cards = [], [], []

    def add(n: int, name: str, language: str, shows: str, rows: list[tuple[str, int]]) -> None:
        card = card_number(n)
        customers.append((card, name, language))
        purchases.extend((card, sku, t - ago) for sku, ago in rows)
        cards.append(DemoCard(card, name, shows))

    add(1, "Anna", "de", "repurchase: filter coffee every ~7 days, last 8 days ago (due now)",
        [("C001", ago) for ago in (50, 43, 36, 29, 22, 15, 8)] + [("C004", ago) for ago in (43, 29, 15, 8)])
    add(2, "Ben", "en", "durable: laptop bought 5 days ago, so no laptop offer; laptop sleeve, pasta sauce "
        "and parmesan (bought together)",
        [("D001", 5), ("C027", 20), ("C027", 35)])
    add(3, "Clara", "en", "category: mostly cheese (cheese offers first)",
        [(sku, ago) for ago in (40, 30, 20, 12) for sku in ("C009", "C010", "C042")])
    add(4, "David", "de", "new customer, no purchases: popular offers", [])
    add(5, "Emma", "en", "coffee machine bought 10 days ago: descaler (bought together), no coffee machine offer",
        [("D007", 10), ("C002", 10), ("C005", 10)])
    luhn = luhn_card_number(6)
    customers.append((luhn, "Felix", "de"))
    purchases.extend((luhn, sku, t - ago) for sku, ago in (("C041", 20), ("C037", 20), ("C041", 10), ("C037", 10)))
    cards.append(DemoCard(luhn, "Felix", "Luhn-format card: beer and crisps every ~10 days (due now)"))
    return customers, purchases, cards


def generate(customers: int = 200, purchases: int = 20000, today: date | None = None, seed: int = SEED) -> DemoData:
    """Deterministic for the same arguments; `purchases` is a target (the personas add a few dozen)."""
    today = today or date.today()
    rng = random.Random(seed)
    people, rows, cards = _personas(today)
    consumables = [p[0] for p in PRODUCTS if p[4] == "consumable"]
    durables = [p[0] for p in PRODUCTS if p[4] == "durable"]
    random_customers = max(customers - len(people), 0)
    per_customer = purchases / max(random_customers, 1)
    days_back = 365
    for i in range(random_customers):
        name, language = FIRST_NAMES[i % len(FIRST_NAMES)]
        card = card_number(100 + i)
        people.append((card, name, language if i % 4 else None))
        favourites = rng.sample(consumables, rng.randint(6, 14))
        rows.extend(_history_of_size(random.Random(seed * 100_003 + i), card, favourites, today, days_back,
                                     per_customer))
        if rng.random() < 0.25:
            durable, day = rng.choice(durables), today.toordinal() - rng.randint(1, days_back)
            rows.append((card, durable, day))
            companions = next((b for b in BUNDLES if b[0] == durable), ())
            rows.extend((card, sku, day) for sku in companions[1:] if rng.random() < 0.8)
    return DemoData(product_rows(), people, rows, offer_rows(today), cards)


def write_csv(data: DemoData, out: Path) -> dict[str, Path]:
    """The four import files a store would hand over (products, customers, transactions, offers); the folder
    is 0700 and the files 0600, like everything in the kiosk's data folder."""
    from kiosk.services.private_files import private_folder

    private_folder(out)
    files = {name: out / f"{name}.csv" for name in ("products", "customers", "transactions", "offers")}
    with open(files["products"], "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "name", "category", "department", "kind", "repurchase_days", "durable_days"])
        writer.writerows(("" if v is None else v for v in row) for row in data.products)
    with open(files["customers"], "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["card_id", "first_name", "language"])
        writer.writerows((c, n, lang or "") for c, n, lang in data.customers)
    with open(files["transactions"], "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["card_id", "date", "sku", "quantity"])
        writer.writerows((c, date.fromordinal(d).isoformat(), s, 1) for c, s, d in data.purchases)
    with open(files["offers"], "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["offer_id", "title", "icon", "price", "discount_percent", "valid_from", "valid_until",
                         "sku", "category", "title_de", "regular_price"])
        german = german_titles()
        regular = regular_prices()
        for oid, title, icon, cents, discount, start, end, sku, category in data.offers:
            writer.writerow((oid, title, icon, "" if cents is None else f"{cents / 100:.2f}",
                             "" if discount is None else discount, date.fromordinal(start).isoformat(),
                             date.fromordinal(end).isoformat(), sku or "", category or "", german.get(oid, ""),
                             f"{regular[sku] / 100:.2f}" if sku in regular else ""))
    for path in files.values():
        os.chmod(path, 0o600)
    return files


def regular_prices() -> dict[str, int]:
    """The demo products' regular prices in cents by SKU (struck through beside an offer's price)."""
    return {sku: round(price * 100) for sku, *_, price in PRODUCTS}


def import_csv(store: LoyaltyStore, files: dict[str, Path]) -> None:
    loyalty_csv.import_products(store, files["products"])
    loyalty_csv.import_customers(store, files["customers"])
    loyalty_csv.import_transactions(store, files["transactions"])
    loyalty_csv.import_offers(store, files["offers"])


def seed_demo(store: LoyaltyStore, work_dir: Path, today: date | None = None) -> bool:
    """Fill an empty store with the demo data through the CSV import; False if it has today's data already.

    The demo stories (what is due, what was just bought) are relative to the day of seeding, so a store
    this function seeded on an earlier day is seeded afresh. A store with other data is never touched.
    """
    today = today or date.today()
    seeded_on = store.get_meta(DEMO_META_KEY)
    if store.counts()["customers"] and (seeded_on is None or seeded_on == today.isoformat()):
        return False
    data = generate(today=today)
    files = write_csv(data, work_dir)
    with store.transaction():
        if seeded_on is not None:
            store.clear()
        import_csv(store, files)
        store.set_meta(DEMO_META_KEY, today.isoformat())
    logger.info("Seeded demo loyalty data for %s into %s (%d customers, %d purchases)",
                today, store.path, len(data.customers), len(data.purchases))
    return True


def bulk_build(store: LoyaltyStore, customers: int, purchases: int, today: date | None = None) -> DemoData:
    """Large store for benchmarks: the same generator, inserted with executemany in one transaction each."""
    data = generate(customers, purchases, today)
    store.add_products(
        ProductRow(sku=sku, name=name, category=category, department=department, kind=kind,
                   repurchase_days=repurchase, durable_days=durable)
        for sku, name, category, department, kind, repurchase, durable in data.products
    )
    store.add_customers(CustomerRow(card_id=card, first_name=name, language=language)
                        for card, name, language in data.customers)
    cards, skus = store.card_ids(), store.sku_ids()
    store.add_purchases(PurchaseRow(customer_id=cards[c], product_id=skus[s], day=d, quantity=1)
                        for c, s, d in data.purchases)
    german = german_titles()
    regular = regular_prices()
    offers = [
        OfferRow(offer_id=oid, title=title, icon=icon, price_cents=cents, discount_percent=discount,
                 valid_from=start, valid_until=end, product_id=skus[sku] if sku else None, category=category)
        for oid, title, icon, cents, discount, start, end, sku, category in data.offers
    ]
    sku_of = {row[0]: row[7] for row in data.offers}
    store.replace_offers(
        offers,
        titles=[OfferTitle(o.offer_id, "de", german[o.offer_id]) for o in offers if o.offer_id in german],
        regular_prices=[RegularPrice(o.offer_id, regular[sku_of[o.offer_id]]) for o in offers
                        if sku_of[o.offer_id] in regular],
    )
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for products/customers/transactions/offers.csv")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--purchases", type=int, default=20000)
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)")
    args = parser.parse_args(argv)
    data = generate(args.customers, args.purchases, args.today)
    for name, path in write_csv(data, args.out).items():
        print(f"{name}: {path}")
    for card in data.cards:
        print(f"card {card.card_id}  {card.first_name}: {card.shows}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
