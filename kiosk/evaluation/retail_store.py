"""Build a kiosk loyalty store (SQLite) from a retail basket file, for `bench-offers` on a real catalogue.

Members get generated EAN-13 cards (prefix 28), products their barcode as SKU and their category code, and
every product an offer (10-30 % off its median unit price) valid around `today`; purchase dates are shifted
so that the file's last day is yesterday (the engine's timing features then mean what they mean in a store).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from kiosk.evaluation.retail_data import RetailData, _open_text
from kiosk.services.cards import ean13_check_digit
from kiosk.services.loyalty import CustomerRow, LoyaltyStore, OfferRow, ProductRow, PurchaseRow, RegularPrice


CARD_PREFIX = "28"


@dataclass(frozen=True)
class RetailStoreSummary:
    customers: int
    products: int
    purchases: int
    offers: int
    day_shift: int


def card_for(index: int) -> str:
    body = f"{CARD_PREFIX}{index:010d}"
    return body + ean13_check_digit(body)


def _unit_prices(data: RetailData) -> dict[str, int]:
    """Median unit price (cents) per product from the file's quantity and sales columns, where it has them."""
    prices: dict[str, list[float]] = {}
    with _open_text(Path(data.path)) as handle:
        reader = csv.DictReader(handle)
        if not {"quantity", "sales", "product_id"} <= set(reader.fieldnames or ()):
            return {}
        for row in reader:
            try:
                quantity, sales = float(row["quantity"]), float(row["sales"])
            except (TypeError, ValueError):
                continue  # a line without a usable price keeps the product's other lines' price
            if quantity > 0 and sales > 0:
                prices.setdefault(row["product_id"].strip(), []).append(sales / quantity)
    return {pid: max(1, round(100 * float(np.median(values)))) for pid, values in prices.items()}


def build_retail_store(data: RetailData, store: LoyaltyStore, today: date) -> RetailStoreSummary:
    """Fill an empty store with every member, product and purchase of `data` and an offer per product."""
    log = data.log
    shift = (today.toordinal() - 1) - int(log.day.max())
    rng = np.random.default_rng(7)
    store.add_customers(CustomerRow(card_for(i), f"Member {i + 1}", None) for i in range(log.n_customers))
    categories = data.category_ids
    store.add_products(
        ProductRow(sku, f"Article {sku}", categories[c] if c >= 0 else "uncategorised",
                   (categories[c][:2] if c >= 0 else "other"), "consumable", None, None)
        for sku, c in zip(data.product_ids, log.product_category.tolist())
    )
    cards, skus = store.card_ids(), store.sku_ids()
    customer_id = np.array([cards[card_for(i)] for i in range(log.n_customers)], dtype=np.int64)
    product_id = np.array([skus[sku] for sku in data.product_ids], dtype=np.int64)
    store.add_purchases(PurchaseRow(c, p, d, 1) for c, p, d in zip(
        customer_id[log.customer].tolist(), product_id[log.product].tolist(), (log.day + shift).tolist()))
    prices = _unit_prices(data)
    start, end = (today - timedelta(days=7)).toordinal(), (today + timedelta(days=7)).toordinal()
    discounts = rng.integers(1, 4, size=len(data.product_ids)) * 10
    rows: list[OfferRow] = []
    regular: list[RegularPrice] = []
    for code, sku in enumerate(data.product_ids):
        offer_id = f"R{code:06d}"
        rows.append(OfferRow(offer_id, f"Article {sku}", "", None, int(discounts[code]), start, end,
                             int(product_id[code]), None))
        if sku in prices:
            regular.append(RegularPrice(offer_id, prices[sku]))
    store.replace_offers(rows, regular_prices=regular)
    return RetailStoreSummary(log.n_customers, len(data.product_ids), len(log), len(rows), shift)
