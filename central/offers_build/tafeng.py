"""The shared Ta-Feng developer file as an `offers-build` input: transactions export, products and a catalogue.

Why: the tests and the scale benchmark need a chain export of real size and shape; Ta-Feng has real
members, dates, products and categories. Its `residence_area` stands in for the store (8 "stores").
`replicas` > 1 appends copies with new member and basket ids (the same statistics), for the benchmark.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
TAFENG_ENV = "MOODKIOSK_TAFENG"
BUILD_DATE = date(2001, 3, 1)  # the day after the file's last day


def tafeng_path() -> Path:
    return Path(os.environ.get(TAFENG_ENV) or REPO.parent / "shared" / "data" / "retail_tafeng_dev.csv.gz")


@dataclass(frozen=True)
class ChainFiles:
    transactions: Path
    products: Path
    offers: Path
    lines: int


def _read(source: Path) -> pa.Table:
    return pacsv.read_csv(source, convert_options=pacsv.ConvertOptions(
        include_columns=["customer_id", "date", "product_id", "category", "quantity", "sales", "residence_area"],
        column_types={"customer_id": pa.string(), "product_id": pa.string(), "category": pa.string(),
                      "residence_area": pa.string(), "date": pa.string()},
    ))


def write_chain_files(out: Path, replicas: int = 1, fmt: str = "csv", offers: int = 80,
                      source: Path | None = None) -> ChainFiles:
    """Write transactions (`fmt` csv or parquet), products.csv and offers.csv for Ta-Feng into `out`.

    The catalogue: the `offers` products bought by most members, every third of them as a discount, plus
    one whole-category offer for each of the 5 largest categories; valid for the month after the data.
    """
    out.mkdir(parents=True, exist_ok=True)
    table = _read(source or tafeng_path())
    member = table["customer_id"]
    base = pa.table({
        "member": member,
        "date": table["date"],
        "product": table["product_id"],
        "store": pc.binary_join_element_wise("store-", pc.utf8_lower(table["residence_area"]), ""),
        "quantity": table["quantity"],
        "amount": table["sales"],
    })
    path = out / f"transactions.{'parquet' if fmt == 'parquet' else 'csv'}"
    writer: pq.ParquetWriter | pacsv.CSVWriter
    if fmt == "parquet":
        writer = pq.ParquetWriter(path, base.schema)
    else:
        writer = pacsv.CSVWriter(path, base.schema)
    with writer:
        for copy in range(replicas):
            if copy == 0:
                part = base
            else:  # new member ids: the copy's number in front keeps them digits-only and distinct
                prefix = f"{copy:03d}"
                part = base.set_column(0, "member", pc.binary_join_element_wise(prefix, member, ""))
            writer.write_table(part)
    _write_products(table, out / "products.csv")
    _write_offers(table, out / "offers.csv", offers)
    return ChainFiles(path, out / "products.csv", out / "offers.csv", len(base) * replicas)


def _write_products(table: pa.Table, path: Path) -> None:
    products = table.select(["product_id", "category"]).group_by(["product_id"]).aggregate([("category", "min")])
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("sku,name,category,department,kind,repurchase_days,durable_days\n")
        for sku, category in zip(products["product_id"].to_pylist(), products["category_min"].to_pylist()):
            handle.write(f"{sku},Product {sku},c{category},d{category[:2]},consumable,,\n")


def _write_offers(table: pa.Table, path: Path, count: int) -> None:
    pairs = table.select(["product_id", "customer_id"]).group_by(["product_id", "customer_id"]).aggregate([])
    buyers = pairs.group_by(["product_id"]).aggregate([("customer_id", "count")])
    order = np.lexsort((np.array(buyers["product_id"].to_pylist()), -buyers["customer_id_count"].to_numpy()))
    top = [buyers["product_id"][int(i)].as_py() for i in order[:count]]
    sizes = table.group_by(["category"]).aggregate([("quantity", "count")]).sort_by([("quantity_count", "descending")])
    categories = sizes["category"].to_pylist()[:5]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("offer_id,title,icon,price,discount_percent,valid_from,valid_until,sku,category,title_de\n")
        for n, sku in enumerate(top):
            price, discount = ("", "15") if n % 3 == 0 else (f"{1 + n % 9}.{n % 100:02d}", "")
            handle.write(f"o-{sku},Offer {sku},basket,{price},{discount},2001-02-15,2001-03-31,{sku},,"
                         f"Angebot {sku}\n")
        for category in categories:
            handle.write(f"cat-{category},All of c{category},basket,,10,2001-02-15,2001-03-31,,c{category},\n")
