"""Read a retail basket file (customer, basket, date, product[, category, order_number]) into a PurchaseLog.

Every value is checked: a missing column or an unparseable value ends with one line naming file, row (as a
spreadsheet shows it, header = row 1) and column. A product without a category is not an error: it gets
NO_CATEGORY and the rows are counted in `RetailData.rows_without_category`.
"""
from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from contract.operator_files import bounded_lines
from kiosk.errors import KioskError
from kiosk.services.purchase_log import NO_CATEGORY, PurchaseLog

REQUIRED_COLUMNS = ("customer_id", "basket_id", "date", "product_id")
OPTIONAL_COLUMNS = ("category", "order_number")


class RetailDataError(KioskError):
    """A retail data file cannot be read; the message names file, row and column."""


@dataclass(frozen=True)
class RetailData:
    """A decoded retail file: the purchase log and the outside ids behind its dense codes."""

    path: str
    log: PurchaseLog
    customer_ids: tuple[str, ...]
    product_ids: tuple[str, ...]
    category_ids: tuple[str, ...]
    rows: int
    rows_without_category: int
    has_order_numbers: bool


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def load_retail(path: str | Path) -> RetailData:
    """Read and check the whole file; raise RetailDataError naming the first bad value."""
    path = Path(path)
    if not path.is_file():
        raise RetailDataError(f"{path}: no such file")
    codes: dict[str, dict[str, int]] = {"customer_id": {}, "product_id": {}, "category": {}}
    dates: dict[str, int] = {}
    customer: list[int] = []
    day: list[int] = []
    product: list[int] = []
    order: list[int] = []
    category_of: dict[int, int] = {}
    without_category = 0
    try:
        with _open_text(path) as handle:
            reader = csv.reader(bounded_lines(handle))
            header = next(reader, None)
            if header is None:
                raise RetailDataError(f"{path}: empty file (expected a header with {', '.join(REQUIRED_COLUMNS)})")
            header = [name.strip() for name in header]
            missing = [name for name in REQUIRED_COLUMNS if name not in header]
            if missing:
                raise RetailDataError(f"{path}: row 1: missing column(s) {', '.join(missing)} "
                                      f"(needs {', '.join(REQUIRED_COLUMNS)}; has {', '.join(header)})")
            col = {name: header.index(name) for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if name in header}
            has_category, has_order = "category" in col, "order_number" in col
            width = len(header)
            for row_number, row in enumerate(reader, start=2):
                if len(row) != width:
                    raise RetailDataError(f"{path}: row {row_number}: {len(row)} fields, the header has {width}")

                def text(name: str) -> str:
                    value = row[col[name]].strip()
                    if not value:
                        raise RetailDataError(f"{path}: row {row_number}, column {name}: is empty")
                    return value

                cid = codes["customer_id"].setdefault(text("customer_id"), len(codes["customer_id"]))
                pid = codes["product_id"].setdefault(text("product_id"), len(codes["product_id"]))
                raw_date = text("date")
                ordinal = dates.get(raw_date)
                if ordinal is None:
                    try:
                        ordinal = date.fromisoformat(raw_date).toordinal()
                    except ValueError:
                        raise RetailDataError(
                            f"{path}: row {row_number}, column date: {raw_date!r} is not a date YYYY-MM-DD") from None
                    dates[raw_date] = ordinal
                basket_text = text("order_number") if has_order else text("basket_id")
                try:
                    order_value = int(basket_text)
                except ValueError:
                    which = "order_number" if has_order else "basket_id"
                    raise RetailDataError(
                        f"{path}: row {row_number}, column {which}: {basket_text!r} is not an integer") from None
                raw_category = row[col["category"]].strip() if has_category else ""
                if raw_category:
                    category_of.setdefault(pid, codes["category"].setdefault(raw_category, len(codes["category"])))
                else:
                    without_category += has_category
                customer.append(cid)
                day.append(ordinal)
                product.append(pid)
                order.append(order_value)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, gzip.BadGzipFile) as exc:
        raise RetailDataError(f"{path}: cannot be read: {exc}") from None
    if not product:
        raise RetailDataError(f"{path}: no data rows")
    n_products = len(codes["product_id"])
    product_category = np.full(n_products, NO_CATEGORY, dtype=np.int64)
    for pid, cat in category_of.items():
        product_category[pid] = cat
    log = PurchaseLog.build(np.array(customer), np.array(day), np.array(product), product_category,
                            len(codes["customer_id"]), order=np.array(order))
    return RetailData(str(path), log, tuple(codes["customer_id"]), tuple(codes["product_id"]),
                      tuple(codes["category"]), len(product), without_category, has_order)
