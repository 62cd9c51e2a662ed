"""Readers of the chain's exports: transactions (CSV or Parquet), products and the offer catalogue (CSV).

Why pyarrow: it reads CSV (also .gz) and Parquet into the same columnar table, checks every value with
vectorised kernels (20 M lines in seconds, not a Python loop) and dictionary-encodes member and store ids
into small integers, which is what the offer engine's numpy code works on.

Rules (every problem names file, row and column; nothing is written when any is found):
- transactions need the columns `member, date, product, store, quantity, amount` (others are ignored);
  `member` is the loyalty card number (4-64 digits), `date` YYYY-MM-DD, `product` a sku of the products file,
  `store` a store id (the kiosk's `store_id` rule), `quantity` a whole number, `amount` a number;
- a line with quantity <= 0 (a return or a void) is skipped and counted, never an error;
- a line dated after the build date is an error (it has not happened as of the build);
- products and the catalogue are the kiosk's own `import-loyalty` CSV formats, checked by the same code
  (`LoyaltyStore.import_products` / `import_offers`): a product without a category stops the build there;
- an empty catalogue, or one with no offer valid on the build date, stops the build.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import contract
from central.offers_build.errors import BuildInputError
from kiosk.services.loyalty import CatalogueOffer, LoyaltyStore, Product
from kiosk.services.loyalty_csv import import_offers, import_products

TRANSACTION_COLUMNS = ("member", "date", "product", "store", "quantity", "amount")
MAX_REPORTED = 20
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
COLUMN_RULES = {
    "member": (r"^[0-9]{4,64}$", "is not a card number of 4-64 digits"),
    "date": (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "is not a date YYYY-MM-DD"),
    "store": (contract.ID_PATTERN.pattern, "is not a store id (1-64 letters, digits, - or _)"),
    "quantity": (r"^-?[0-9]{1,9}$", "is not a whole number"),
    "amount": (r"^-?[0-9]{1,12}(\.[0-9]+)?$", "is not a number"),
}


@dataclass(frozen=True)
class Catalogue:
    """Products (by the engine's integer product id) and the offer catalogue, as the kiosk's store holds them."""

    products: dict[int, Product]
    offers: tuple[CatalogueOffer, ...]
    sku_ids: dict[str, int]
    build_date: date  # purchase lines dated after it are refused (the engine would score them NaN)


def after_build_date(build_date: date) -> str:
    """The problem of a purchase line dated after the build date: it has not happened as of the build, and the
    ranker's cycle features (days since the last purchase) are undefined for it (a NaN score, no row named)."""
    return f"is after the build date {build_date.isoformat()} (export up to it, or pass a later --date)"


@dataclass(frozen=True)
class Transactions:
    """Decoded purchase lines, one entry per line: member and store as codes into `members` / `stores`."""

    member: np.ndarray  # int64 code into `members`
    day: np.ndarray  # int64 date ordinal
    product: np.ndarray  # int64 product id of the Catalogue
    store: np.ndarray  # int64 code into `stores`
    members: np.ndarray  # card numbers (str), indexed by member code
    stores: tuple[str, ...]
    skipped_returns: int  # lines with quantity <= 0, skipped by rule

    @property
    def lines(self) -> int:
        return len(self.member)


def read_catalogue(products_csv: Path, offers_csv: Path, build_date: date) -> Catalogue:
    """Products and offers through the kiosk's own CSV importers (same columns, same checks, same messages)."""
    for path in (products_csv, offers_csv):
        if not Path(path).is_file():
            raise BuildInputError(f"{path}: no such file")
    with LoyaltyStore(":memory:") as store:
        with store.transaction():
            import_products(store, products_csv)
            import_offers(store, offers_csv)
        products, offers, sku_ids = store.products(), tuple(store.catalogue()), store.sku_ids()
    if not offers:
        raise BuildInputError(f"{offers_csv}: the offer catalogue is empty: there is nothing to offer")
    if not any(o.valid_on(build_date) for o in offers):
        raise BuildInputError(f"{offers_csv}: no offer is valid on the build date {build_date.isoformat()}")
    return Catalogue(products, offers, sku_ids, build_date)


def first_line(exc: BaseException) -> str:
    """A reader's exception as one line (pyarrow and Spark append schemas and JVM stack traces; a Py4J error's
    first line only says which JVM call failed, the cause is on the next)."""
    lines = [line.strip().lstrip(": ") for line in str(exc).strip().splitlines()]
    useful = [line for line in lines if line and not line.startswith("An error occurred while calling")]
    return (useful or lines or [type(exc).__name__])[0]


def check_columns(path: Path, names: list[str]) -> None:
    """Every needed column once: a second `store` column would be read silently in place of the first (CSV)
    or stop pyarrow with a multi-line message (Parquet); both engines refuse it with one line."""
    missing = [c for c in TRANSACTION_COLUMNS if c not in names]
    if missing:
        raise BuildInputError(f"{path}: missing column(s) {', '.join(missing)} (the file has: {', '.join(names)})")
    twice = [c for c in TRANSACTION_COLUMNS if names.count(c) > 1]
    if twice:
        raise BuildInputError(f"{path}: column(s) {', '.join(twice)} appear more than once (the file has: "
                              f"{', '.join(names)}); which one holds the data is ambiguous")


def _read_table(path: Path) -> tuple[pa.Table, int]:
    """The needed columns as strings, and the row number of the first data row as a user sees it."""
    if not path.is_file():
        raise BuildInputError(f"{path}: no such file")
    parquet = path.suffix == ".parquet"
    try:
        if parquet:
            names = pq.read_schema(path).names
        else:
            with pacsv.open_csv(path) as reader:
                names = reader.schema.names
    except (pa.ArrowException, OSError) as exc:
        raise BuildInputError(
            f"{path}: cannot read as {'Parquet' if parquet else 'CSV'}: {first_line(exc)}") from None
    check_columns(path, names)
    try:
        if parquet:
            table = pq.read_table(path, columns=list(TRANSACTION_COLUMNS))
            table = pa.table({c: pc.cast(table[c], pa.string()) for c in TRANSACTION_COLUMNS})
            return table, 1
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=list(TRANSACTION_COLUMNS),
            column_types={c: pa.string() for c in TRANSACTION_COLUMNS},
            strings_can_be_null=False,
        ))
        return table, 2  # row 1 is the header, as a spreadsheet shows it
    except (pa.ArrowException, OSError) as exc:
        raise BuildInputError(f"{path}: cannot read: {first_line(exc)}") from None


def read_transactions(path: Path, catalogue: Catalogue) -> Transactions:
    """Check every value, then decode; raises BuildInputError naming up to 20 problems (file, row, column)."""
    path = Path(path)
    table, first_row = _read_table(path)
    columns = {c: pc.utf8_trim_whitespace(table[c].combine_chunks()) for c in TRANSACTION_COLUMNS}
    skus = pa.array(list(catalogue.sku_ids), type=pa.string())
    bad: list[tuple[str, np.ndarray, str]] = []  # (column, rows, problem)
    for name, (pattern, problem) in COLUMN_RULES.items():
        if name == "date":
            continue  # checked below, with the calendar
        ok = pc.fill_null(pc.match_substring_regex(columns[name], pattern), False)
        bad.append((name, np.flatnonzero(~ok.to_numpy(zero_copy_only=False)), problem))
    parsed = pc.strptime(columns["date"], format="%Y-%m-%d", unit="s", error_is_null=True)
    shaped = pc.fill_null(pc.match_substring_regex(columns["date"], COLUMN_RULES["date"][0]), False)
    # strptime rolls impossible days over (2001-02-30 -> 2001-03-02): a date must read back as it was written
    same = pc.fill_null(pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), columns["date"]), False)
    days = pc.cast(pc.cast(parsed, pa.date32()), pa.int32()).to_numpy(zero_copy_only=False)
    before_year_1 = np.nan_to_num(days.astype(np.float64), nan=0.0) + EPOCH_ORDINAL < 1  # year 0000
    date_bad = ~shaped.to_numpy(zero_copy_only=False) | ~same.to_numpy(zero_copy_only=False) | before_year_1
    bad.append(("date", np.flatnonzero(date_bad), COLUMN_RULES["date"][1]))
    later = np.flatnonzero(~date_bad & (np.nan_to_num(days.astype(np.float64), nan=0.0) + EPOCH_ORDINAL
                                        > catalogue.build_date.toordinal()))
    bad.append(("date", later, after_build_date(catalogue.build_date)))
    sku_index = pc.index_in(columns["product"], value_set=skus)
    bad.append(("product", np.flatnonzero(sku_index.is_null().to_numpy(zero_copy_only=False)),
                "is not a sku of the products file"))
    total = sum(len(rows) for _, rows, _ in bad)
    if total:
        found = sorted((int(row), name, problem) for name, rows, problem in bad for row in rows[:MAX_REPORTED])
        parts = []
        for row, name, problem in found[:MAX_REPORTED]:
            value = columns[name][row].as_py()
            parts.append(f"row {row + first_row}, column {name}: {problem} (got {str(value)[:40]!r})")
        more = f" (and {total - len(parts)} more)" if total > len(parts) else ""
        raise BuildInputError(f"{path}: nothing written, {total} bad value(s): " + "; ".join(parts) + more)

    quantity = pc.cast(columns["quantity"], pa.int64()).to_numpy()
    keep = quantity > 0
    sku_to_id = np.array([catalogue.sku_ids[s] for s in skus.to_pylist()], dtype=np.int64)
    members = columns["member"].dictionary_encode()
    stores = columns["store"].dictionary_encode()
    days = days.astype(np.int64) + EPOCH_ORDINAL
    # member codes in sorted card-number order: every engine numbers members the same way (see population.py)
    names = np.asarray(members.dictionary.to_pylist(), dtype=object)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    member_codes = rank[members.indices.to_numpy().astype(np.int64)]
    store_codes = stores.indices.to_numpy().astype(np.int64)
    products = sku_to_id[sku_index.to_numpy().astype(np.int64)]
    return Transactions(
        member=member_codes[keep], day=days[keep], product=products[keep], store=store_codes[keep],
        members=names[order],
        stores=tuple(stores.dictionary.to_pylist()),
        skipped_returns=int((~keep).sum()),
    )
