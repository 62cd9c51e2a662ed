"""CSV import into the loyalty store: each file's rows decoded into typed rows, checked, then written (all or none).

Every column of a file is declared once on its row type with the decoder that turns the cell's text into
the typed value (`_column`); `read_rows` is the one decoder of all four files, and names row and column in
every problem. Nothing is written unless the whole file is good."""
from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any, Callable, Generic, Iterable, Sequence, TypeVar

from contract.operator_files import bounded_lines, first_non_utf8, require_regular_file
from kiosk.services.loyalty import KINDS, LANGUAGES, CustomerRow, LoyaltyError, LoyaltyStore
from kiosk.services.loyalty import OfferRow, OfferTitle, ProductRow, PurchaseRow, RegularPrice
from kiosk.services.records import MAX_ID_CHARS, MAX_TEXT_CHARS, refuse_control_characters

logger = logging.getLogger(__name__)

MAX_REPORTED_PROBLEMS = 20


class ImportFileError(LoyaltyError):
    """A CSV import was rejected; nothing of it was stored. `problems` names row, column and problem."""

    def __init__(self, file: str, problems: list[str], total: int) -> None:
        self.file = file
        self.problems = problems
        self.total = total
        more = f" (and {total - len(problems)} more)" if total > len(problems) else ""
        super().__init__(f"{file}: nothing imported, {total} bad value(s): " + "; ".join(problems) + more)


@dataclass(frozen=True, slots=True)
class ImportResult:
    file: str
    rows: int


# ----- cell decoders: each raises ValueError with the problem; read_rows adds row and column ---------------
def _text(value: str) -> str:
    value = refuse_control_characters(value.strip())
    if not value:
        raise ValueError("is empty")
    return value


def _optional_text(value: str) -> str | None:
    return refuse_control_characters(value.strip()) or None


def _upto(limit: int, decode: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """`decode`, refusing a text longer than `limit` characters (what an offer snapshot can carry)."""
    def parse(value: str) -> str | None:
        text = decode(value)
        if text is not None and len(text) > limit:
            raise ValueError(f"is longer than {limit} characters (got {len(text)})")
        return text

    return parse


def _date(value: str) -> int:
    text = value.strip()
    try:
        return date.fromisoformat(text).toordinal()
    except ValueError:
        raise ValueError(f"is not a date YYYY-MM-DD (got {text!r})") from None


def _int_range(low: int, high: int, optional: bool = False) -> Callable[[str], int | None]:
    def parse(value: str) -> int | None:
        text = value.strip()
        if not text and optional:
            return None
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"is not a whole number (got {text!r})") from None
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high} (got {number})")
        return number

    return parse


def _optional_positive_float(value: str) -> float | None:
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"is not a number (got {text!r})") from None
    if not 0 < number < 100_000:
        raise ValueError(f"must be a positive number of days (got {text})")
    return number


def _price_cents(value: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    try:
        cents = round(float(text) * 100)
    except (ValueError, OverflowError):  # "inf" overflows round()
        raise ValueError(f"is not a price like 2.49 (got {text!r})") from None
    if not 0 <= cents <= 10_000_000:
        raise ValueError(f"is out of range (got {text})")
    return cents


def _choice(options: Sequence[str], optional: bool = False) -> Callable[[str], str | None]:
    def parse(value: str) -> str | None:
        text = value.strip().lower()
        if not text and optional:
            return None
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)} (got {value.strip()!r})")
        return text

    return parse


def _card(value: str) -> str:
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or not 4 <= len(text) <= 64:
        raise ValueError(f"is not a card number of 4-64 digits (got {len(text)} chars)")
    return text


def _column(decode: Callable[[str], Any], optional: bool = False) -> Any:
    """A CSV column of a row type: its decoder, and whether the file may leave the column out."""
    return field(metadata={"decode": decode, "optional": optional})


# ----- the four files' rows ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CustomerLine:
    """customers.csv: card_id, first_name, language (en/de or empty)."""

    card_id: str = _column(_card)
    first_name: str = _column(_text)
    language: str | None = _column(_choice(LANGUAGES, optional=True), optional=True)


@dataclass(frozen=True, slots=True)
class ProductLine:
    """products.csv: sku, name, category, department, kind, repurchase_days, durable_days."""

    sku: str = _column(_text)
    name: str = _column(_upto(MAX_TEXT_CHARS, _text))  # a "goes with" reason names it in a snapshot
    category: str = _column(_upto(MAX_TEXT_CHARS, _text))
    department: str = _column(_text)
    kind: str = _column(_choice(KINDS))
    repurchase_days: float | None = _column(_optional_positive_float, optional=True)
    durable_days: int | None = _column(_int_range(1, 36500, optional=True), optional=True)


@dataclass(frozen=True, slots=True)
class TransactionLine:
    """transactions.csv: card_id, date (YYYY-MM-DD), sku, quantity (default 1)."""

    card_id: str = _column(_card)
    date: int = _column(_date)  # date.toordinal()
    sku: str = _column(_text)
    quantity: int | None = _column(_int_range(1, 10_000, optional=True), optional=True)


@dataclass(frozen=True, slots=True)
class OfferLine:
    """offers.csv: offer_id, title, icon, price, discount_percent, valid_from, valid_until, sku, category,
    title_en / title_de (the title for shoppers of that language), regular_price (shown struck through)."""

    offer_id: str = _column(_upto(MAX_ID_CHARS, _text))
    title: str = _column(_upto(MAX_TEXT_CHARS, _text))
    icon: str = _column(_upto(MAX_ID_CHARS, _text))
    price: int | None = _column(_price_cents, optional=True)  # cents
    discount_percent: int | None = _column(_int_range(1, 99, optional=True), optional=True)
    valid_from: int = _column(_date)
    valid_until: int = _column(_date)
    sku: str | None = _column(_optional_text, optional=True)
    category: str | None = _column(_upto(MAX_TEXT_CHARS, _optional_text), optional=True)
    title_en: str | None = _column(_upto(MAX_TEXT_CHARS, _optional_text), optional=True)
    title_de: str | None = _column(_upto(MAX_TEXT_CHARS, _optional_text), optional=True)
    regular_price: int | None = _column(_price_cents, optional=True)  # cents

    def titles(self) -> list[OfferTitle]:
        return [OfferTitle(self.offer_id, language, title)
                for language, title in (("en", self.title_en), ("de", self.title_de)) if title]


Line = TypeVar("Line", CustomerLine, ProductLine, TransactionLine, OfferLine)


@dataclass(frozen=True, slots=True)
class Numbered(Generic[Line]):
    """One decoded row and its row number as a spreadsheet shows it (header = row 1)."""

    row: int
    line: Line


def read_rows(path: str | Path, kind: type[Line]) -> list[Numbered[Line]]:
    """Decode every row of a CSV file into `kind`; raise ImportFileError listing bad values by row and column.

    Columns not declared on `kind` are ignored; a missing column is an error unless it is optional (then
    every cell of it reads as empty)."""
    file = str(path)
    columns = [(f.name, f.metadata["decode"], f.metadata["optional"]) for f in fields(kind)]
    parsed: list[Numbered[Line]] = []
    problems: list[str] = []
    total = 0
    try:
        require_regular_file(path)  # /dev/zero or a FIFO would be read for ever
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(bounded_lines(handle))
            header = [name.strip() for name in (reader.fieldnames or [])]
            reader.fieldnames = header
            missing = [name for name, _, optional in columns if name not in header and not optional]
            if missing:
                raise ImportFileError(file, [f"row 1: missing column(s) {', '.join(missing)}{_delimiter_hint(header)}"], 1)
            breaks = _line_breaks(header)  # physical lines inside quoted cells: not rows of the spreadsheet
            for row in reader:
                breaks += _line_breaks(row.values())
                n = reader.line_num - breaks
                if None in row:
                    total += 1
                    if len(problems) < MAX_REPORTED_PROBLEMS:
                        problems.append(f"row {n}: more values than columns")
                    continue
                values: dict[str, Any] = {}
                for name, decode, _ in columns:
                    raw = row.get(name)
                    try:
                        values[name] = decode(raw if raw is not None else "")
                    except ValueError as exc:
                        total += 1
                        if len(problems) < MAX_REPORTED_PROBLEMS:
                            problems.append(f"row {n}, column {name}: {exc}")
                if len(values) == len(columns):
                    parsed.append(Numbered(n, kind(**values)))
    except FileNotFoundError:
        raise ImportFileError(file, ["file not found"], 1) from None
    except UnicodeDecodeError:
        raise ImportFileError(file, [f"{_where_not_utf8(path)} is not UTF-8 (save the file as UTF-8)"], 1) from None
    except csv.Error as exc:
        raise ImportFileError(file, [f"not a readable CSV file: {exc}"], 1) from None
    except OSError as exc:
        raise ImportFileError(file, [f"cannot read: {exc.strerror or exc}"], 1) from None
    if problems:
        raise ImportFileError(file, problems, total)
    return parsed


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _line_breaks(cells: Iterable[Any]) -> int:
    """Line breaks inside quoted cells (a row's extra values come as one list)."""
    texts = (c for cell in cells for c in (cell if isinstance(cell, list) else [cell]) if isinstance(c, str))
    return sum(len(_LINE_BREAK.findall(text)) for text in texts)


def _delimiter_hint(header: list[str]) -> str:
    """A header of one column that holds another separator: say so (a German spreadsheet writes ';')."""
    if len(header) == 1:
        for separator, name in ((";", "';'"), ("\t", "tabs"), ("|", "'|'")):
            if separator in header[0]:
                return f"; the header is one column holding {name}: separate the columns by commas"
    return ""


def _where_not_utf8(path: str | Path) -> str:
    try:
        return first_non_utf8(path)
    except OSError:
        return "a byte"


def _refuse(path: str | Path, problems: list[str]) -> None:
    if problems:
        raise ImportFileError(str(path), problems[:MAX_REPORTED_PROBLEMS], len(problems))


def _no_duplicates(path: str | Path, rows: Sequence[Numbered[Any]], column: str) -> None:
    seen: dict[Any, int] = {}
    problems = []
    for item in rows:
        value = getattr(item.line, column)
        if value in seen:
            problems.append(f"row {item.row}, column {column}: duplicate of row {seen[value]}")
        else:
            seen[value] = item.row
    _refuse(path, problems)


# ----- the imports: decode, check against the store, write typed rows -------------------------------------
def import_customers(store: LoyaltyStore, path: str | Path,
                     card_problem: Callable[[str], str | None] | None = None) -> ImportResult:
    """customers.csv into `store`. `card_problem(card_id)` says why the kiosk would reject a card (the
    configured formats and check digits), None when it would accept it."""
    rows = read_rows(path, CustomerLine)
    if card_problem is not None:
        _refuse(path, [
            f"row {item.row}, column card_id: {problem}; the kiosk would reject this card"
            for item in rows if (problem := card_problem(item.line.card_id)) is not None
        ])
    _no_duplicates(path, rows, "card_id")
    store.add_customers(CustomerRow(r.line.card_id, r.line.first_name, r.line.language) for r in rows)
    logger.debug("Staged %d customers from %s (stored when the transaction commits)", len(rows), path)
    return ImportResult(str(path), len(rows))


def import_products(store: LoyaltyStore, path: str | Path) -> ImportResult:
    """products.csv into `store`; a durable needs its durable_days."""
    rows = read_rows(path, ProductLine)
    _no_duplicates(path, rows, "sku")
    _refuse(path, [f"row {item.row}, column durable_days: a durable needs its durable_days"
                   for item in rows if item.line.kind == "durable" and item.line.durable_days is None])
    store.add_products(
        ProductRow(p.sku, p.name, p.category, p.department, p.kind, p.repurchase_days, p.durable_days)
        for p in (item.line for item in rows)
    )
    logger.debug("Staged %d products from %s (stored when the transaction commits)", len(rows), path)
    return ImportResult(str(path), len(rows))


def import_transactions(store: LoyaltyStore, path: str | Path) -> ImportResult:
    """transactions.csv into `store`; its customers and products must exist."""
    rows = read_rows(path, TransactionLine)
    cards, skus = store.card_ids(), store.sku_ids()
    problems: list[str] = []
    # A purchase dated after tomorrow (a typo like 2062 for 2026) would count as "just bought" for decades and
    # outlive purchase_retention_days: refused. Tomorrow still passes (a till in a time zone ahead of the kiosk).
    latest = date.today().toordinal() + 1
    for item in rows:
        if item.line.date > latest:
            problems.append(f"row {item.row}, column date: {date.fromordinal(item.line.date).isoformat()} "
                            "is in the future")
        if item.line.card_id not in cards:
            problems.append(f"row {item.row}, column card_id: no customer with this card (import customers first)")
        if item.line.sku not in skus:
            problems.append(f"row {item.row}, column sku: unknown product {item.line.sku!r}")
    _refuse(path, problems)
    store.add_purchases(
        PurchaseRow(cards[t.card_id], skus[t.sku], t.date, t.quantity or 1) for t in (item.line for item in rows)
    )
    logger.debug("Staged %d purchases from %s (stored when the transaction commits)", len(rows), path)
    return ImportResult(str(path), len(rows))


def import_offers(store: LoyaltyStore, path: str | Path, replace_all: bool = True) -> ImportResult:
    """offers.csv into `store`. Each offer has a price or a discount, and a product (sku) or a category. By
    default the file replaces the whole catalogue (it is the store's current list)."""
    rows = read_rows(path, OfferLine)
    _no_duplicates(path, rows, "offer_id")
    skus = store.sku_ids()
    problems: list[str] = []
    for item in rows:
        n, o = item.row, item.line
        if o.price is None and o.discount_percent is None:
            problems.append(f"row {n}, column price: an offer needs a price or a discount_percent")
        if o.sku is None and o.category is None:
            problems.append(f"row {n}, column sku: an offer needs a sku or a category")
        if o.sku is not None and o.sku not in skus:
            problems.append(f"row {n}, column sku: unknown product {o.sku!r}")
        if o.valid_until < o.valid_from:
            problems.append(f"row {n}, column valid_until: is before valid_from")
    _refuse(path, problems)
    offers = [item.line for item in rows]
    store.replace_offers(
        [OfferRow(o.offer_id, o.title, o.icon, o.price, o.discount_percent, o.valid_from, o.valid_until,
                  skus[o.sku] if o.sku else None, o.category) for o in offers],
        replace_all,
        [title for o in offers for title in o.titles()],
        [RegularPrice(o.offer_id, o.regular_price) for o in offers if o.regular_price is not None],
    )
    logger.debug("Staged %d offers from %s (stored when the transaction commits)", len(rows), path)
    return ImportResult(str(path), len(rows))
