"""The loyalty store: customers, products, purchases and the offer catalogue in one SQLite file (WAL)."""
from __future__ import annotations

import logging
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from kiosk.errors import KioskError
from kiosk.services.damaged_files import check_integrity
from kiosk.services.records import Customer
from kiosk.services.private_files import private_sqlite

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from kiosk.services.loyalty_csv import ImportResult

SCHEMA_VERSION = 1
LANGUAGES = ("en", "de")
KINDS = ("consumable", "durable")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    customer_id INTEGER PRIMARY KEY,
    card_id     TEXT NOT NULL UNIQUE,      -- the loyalty store is the one place a card number is kept
    first_name  TEXT NOT NULL,
    language    TEXT
);
CREATE TABLE IF NOT EXISTS products (
    product_id      INTEGER PRIMARY KEY,
    sku             TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    category        TEXT NOT NULL,
    department      TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('consumable', 'durable')),
    repurchase_days REAL,                  -- consumables: default interval when a shopper's own is unknown
    durable_days    INTEGER                -- durables: do not offer the category again within this period
);
CREATE TABLE IF NOT EXISTS purchases (
    customer_id INTEGER NOT NULL REFERENCES customers(customer_id),
    product_id  INTEGER NOT NULL REFERENCES products(product_id),
    day         INTEGER NOT NULL,          -- date.toordinal(); a basket is one customer on one day
    quantity    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS purchases_by_customer ON purchases(customer_id, day);
CREATE TABLE IF NOT EXISTS offers (
    offer_id         TEXT PRIMARY KEY,
    title            TEXT NOT NULL,
    icon             TEXT NOT NULL,
    price_cents      INTEGER,
    discount_percent INTEGER,
    valid_from       INTEGER NOT NULL,     -- date.toordinal()
    valid_until      INTEGER NOT NULL,
    product_id       INTEGER REFERENCES products(product_id),
    category         TEXT,
    CHECK (product_id IS NOT NULL OR category IS NOT NULL),
    CHECK (price_cents IS NOT NULL OR discount_percent IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS offers_by_validity ON offers(valid_until, valid_from);
CREATE TABLE IF NOT EXISTS offer_titles (      -- an offer's title in other languages than the catalogue's own
    offer_id TEXT NOT NULL REFERENCES offers(offer_id) ON DELETE CASCADE,
    language TEXT NOT NULL,
    title    TEXT NOT NULL,
    PRIMARY KEY (offer_id, language)
);
CREATE TABLE IF NOT EXISTS offer_regular_prices (  -- shown struck through beside the offer price
    offer_id            TEXT PRIMARY KEY REFERENCES offers(offer_id) ON DELETE CASCADE,
    regular_price_cents INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class LoyaltyError(KioskError):
    """The loyalty store cannot be opened or read."""


@dataclass(frozen=True, slots=True)
class Product:
    product_id: int
    sku: str
    name: str
    category: str
    department: str
    kind: str
    repurchase_days: float | None
    durable_days: int | None


@dataclass(frozen=True, slots=True)
class CatalogueOffer:
    """One offer of the store's catalogue, for one product or for a whole category."""

    offer_id: str
    title: str
    icon: str
    price_cents: int | None
    discount_percent: int | None
    valid_from: date
    valid_until: date
    product_id: int | None
    category: str | None
    titles: tuple[tuple[str, str], ...] = ()  # (language, title) beside the catalogue's own `title`
    regular_price_cents: int | None = None  # the product's regular price, shown struck through

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_until

    def title_in(self, language: str | None) -> str:
        return next((title for lang, title in self.titles if lang == language), self.title)


@dataclass(frozen=True, slots=True)
class Purchase:
    product_id: int
    day: int  # date.toordinal()
    quantity: int


# ----- what the store writes: one named row type per table (NamedTuples, so bulk writes pass them to
# executemany as they are; build them by name) ---------------------------------------------------------
class CustomerRow(NamedTuple):
    card_id: str
    first_name: str
    language: str | None  # "en" / "de", or None for the store's language


class ProductRow(NamedTuple):
    sku: str
    name: str
    category: str
    department: str
    kind: str  # one of KINDS
    repurchase_days: float | None
    durable_days: int | None


class PurchaseRow(NamedTuple):
    customer_id: int
    product_id: int
    day: int  # date.toordinal()
    quantity: int


class OfferRow(NamedTuple):
    """One catalogue offer: a price or a discount, for a product or a whole category."""

    offer_id: str
    title: str
    icon: str
    price_cents: int | None
    discount_percent: int | None
    valid_from: int  # date.toordinal()
    valid_until: int
    product_id: int | None
    category: str | None


class OfferTitle(NamedTuple):
    offer_id: str
    language: str
    title: str


class RegularPrice(NamedTuple):
    offer_id: str
    regular_price_cents: int


class LoyaltyStore:
    """One SQLite file; safe to share between threads (one connection behind a lock, reads are short)."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        """`read_only`: open the file as it is (no schema, no mode change, every write refused) and read it end
        to end first, for a kiosk that cannot open it for writing (kiosk.services.shop)."""
        self.path = Path(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        self._in_transaction = False
        if read_only:
            self._db = self._open_read_only()
            return
        try:
            private_sqlite(self.path)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        except (sqlite3.Error, OSError) as exc:
            raise LoyaltyError(f"loyalty store {self.path}: cannot open: {exc}") from exc

    def _open_read_only(self) -> sqlite3.Connection:
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise LoyaltyError(f"loyalty store {self.path}: cannot open read-only: {exc}") from exc
        try:
            check_integrity(db)  # a torn file opens fine and fails at the first page a lookup touches
            db.execute("SELECT count(*) FROM customers JOIN meta ON 1 = 0").fetchall()  # the tables are there
        except sqlite3.Error as exc:
            db.close()
            raise LoyaltyError(f"loyalty store {self.path}: cannot open read-only: {exc}") from exc
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "LoyaltyStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- reads -------------------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise LoyaltyError(f"loyalty store {self.path}: read failed: {exc}") from exc

    def find_customer(self, card_id: str) -> Customer | None:
        rows = self._query("SELECT customer_id, card_id, first_name, language FROM customers WHERE card_id = ?", (card_id,))
        return Customer(*rows[0]) if rows else None

    def card_id_of(self, customer_id: int) -> str | None:
        """The card number of a customer (to key a snapshot lookup by the card's keyed hash)."""
        rows = self._query("SELECT card_id FROM customers WHERE customer_id = ?", (customer_id,))
        return rows[0][0] if rows else None

    def history(self, customer_id: int) -> list[Purchase]:
        """The customer's purchases, oldest first."""
        rows = self._query(
            "SELECT product_id, day, quantity FROM purchases WHERE customer_id = ? ORDER BY day", (customer_id,)
        )
        return [Purchase(*row) for row in rows]

    def products(self) -> dict[int, Product]:
        rows = self._query(
            "SELECT product_id, sku, name, category, department, kind, repurchase_days, durable_days FROM products"
        )
        return {row[0]: Product(*row) for row in rows}

    def catalogue(self) -> list[CatalogueOffer]:
        titles: dict[str, list[tuple[str, str]]] = {}
        for offer_id, language, title in self._query("SELECT offer_id, language, title FROM offer_titles ORDER BY 1, 2"):
            titles.setdefault(offer_id, []).append((language, title))
        rows = self._query(
            "SELECT o.offer_id, title, icon, price_cents, discount_percent, valid_from, valid_until, product_id,"
            " category, r.regular_price_cents FROM offers o LEFT JOIN offer_regular_prices r USING (offer_id)"
            " ORDER BY o.offer_id"
        )
        return [
            CatalogueOffer(r[0], r[1], r[2], r[3], r[4], date.fromordinal(r[5]), date.fromordinal(r[6]), r[7], r[8],
                           tuple(titles.get(r[0], ())), r[9])
            for r in rows
        ]

    def counts(self) -> dict[str, int]:
        return {t: self._query(f"SELECT count(*) FROM {t}")[0][0] for t in ("customers", "products", "purchases", "offers")}

    def data_stamp(self) -> str:
        """Changes whenever purchases or products change (cheap: uses rowid maxima and counts)."""
        row = self._query(
            "SELECT (SELECT count(*) FROM purchases), (SELECT max(rowid) FROM purchases),"
            " (SELECT count(*) FROM products), (SELECT max(product_id) FROM products)"
        )[0]
        return ":".join(str(v) for v in row)

    def purchase_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(customer_id, day, product_id) of every purchase as int arrays, sorted by customer and day."""
        try:
            with self._lock:
                cursor = self._db.execute("SELECT customer_id, day, product_id FROM purchases ORDER BY customer_id, day")
                chunks = []
                while rows := cursor.fetchmany(200_000):
                    chunks.append(np.array(rows, dtype=np.int64))
        except sqlite3.Error as exc:
            raise LoyaltyError(f"loyalty store {self.path}: read failed: {exc}") from exc
        if not chunks:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty.copy(), empty.copy()
        table = np.concatenate(chunks)
        return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy()

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._write(lambda db: db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value)))

    # ----- writes ------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written inside is stored together or not at all (nests: the outermost one commits)."""
        with self._lock:
            if self._in_transaction:
                yield
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LoyaltyError(f"loyalty store {self.path}: write failed: {exc}") from exc
            self._in_transaction = True
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._db.execute("ROLLBACK")
                    raise LoyaltyError(f"loyalty store {self.path}: write failed: {exc}") from exc
            finally:
                self._in_transaction = False

    def _write(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run `work` in one transaction: all of it is stored, or none of it."""
        with self.transaction():
            try:
                return work(self._db)
            except sqlite3.Error as exc:
                raise LoyaltyError(f"loyalty store {self.path}: write failed: {exc}") from exc

    # ----- data-subject rights and retention (kiosk.services.member_data) --------------------------
    def member_purchases(self, customer_id: int) -> list[tuple[int, str, str, int]]:
        """(day ordinal, sku, product name, quantity) of every purchase of the customer, oldest first."""
        return self._query(
            "SELECT p.day, pr.sku, pr.name, p.quantity FROM purchases p JOIN products pr USING (product_id)"
            " WHERE p.customer_id = ? ORDER BY p.day, pr.sku", (customer_id,)
        )

    def erase_customer(self, customer_id: int, meta_keys: Sequence[str] = ()) -> tuple[int, int]:
        """Delete the customer, their purchases and the given derived `meta` entries (the offer-model cache) in
        one transaction, overwriting the freed pages (secure_delete) and emptying the WAL afterwards, so the
        rows are not left readable in the file. Returns (customers deleted, purchases deleted)."""
        def work(db: sqlite3.Connection) -> tuple[int, int]:
            purchases = db.execute("DELETE FROM purchases WHERE customer_id = ?", (customer_id,)).rowcount
            customers = db.execute("DELETE FROM customers WHERE customer_id = ?", (customer_id,)).rowcount
            for key in meta_keys:
                db.execute("DELETE FROM meta WHERE key = ?", (key,))
            return customers, purchases

        return self._secure_write(work)

    def prune_purchases(self, before_day: int, meta_keys: Sequence[str] = ()) -> int:
        """Delete purchases of days before `before_day` (a date ordinal), overwriting the freed pages; the
        derived `meta_keys` go too when anything was deleted. Returns how many purchases were deleted."""
        def work(db: sqlite3.Connection) -> int:
            deleted = db.execute("DELETE FROM purchases WHERE day < ?", (before_day,)).rowcount
            if deleted:
                for key in meta_keys:
                    db.execute("DELETE FROM meta WHERE key = ?", (key,))
            return deleted

        return self._secure_write(work)

    def _secure_write(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock:
            try:
                self._db.execute("PRAGMA secure_delete = ON")
                result = self._write(work)
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # old page images leave the -wal file
            except sqlite3.Error as exc:
                raise LoyaltyError(f"loyalty store {self.path}: write failed: {exc}") from exc
            finally:
                self._db.execute("PRAGMA secure_delete = OFF")
        return result

    def add_customers(self, rows: Iterable[CustomerRow]) -> None:
        """Customers upserted by card: an existing card keeps its id and gets the new name/language."""
        self._write(lambda db: db.executemany(
            "INSERT INTO customers(card_id, first_name, language) VALUES (?, ?, ?) ON CONFLICT(card_id) DO UPDATE"
            " SET first_name = excluded.first_name, language = excluded.language", rows))

    def add_products(self, rows: Iterable[ProductRow]) -> None:
        """Products upserted by sku."""
        self._write(lambda db: db.executemany(
            "INSERT INTO products(sku, name, category, department, kind, repurchase_days, durable_days)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sku) DO UPDATE SET name = excluded.name,"
            " category = excluded.category, department = excluded.department, kind = excluded.kind,"
            " repurchase_days = excluded.repurchase_days, durable_days = excluded.durable_days", rows))

    def add_purchases(self, rows: Iterable[PurchaseRow]) -> None:
        """Purchases appended in one transaction (the fast bulk path: rows go to executemany as they are)."""
        self._write(lambda db: db.executemany(
            "INSERT INTO purchases(customer_id, product_id, day, quantity) VALUES (?, ?, ?, ?)", rows))

    def replace_offers(
        self, rows: Iterable[OfferRow], replace_all: bool = True, titles: Iterable[OfferTitle] = (),
        regular_prices: Iterable[RegularPrice] = (),
    ) -> None:
        """The offers (all of the catalogue, or with `replace_all=False` these ids), their titles in other
        languages and their products' regular prices."""
        rows = list(rows)

        def work(db: sqlite3.Connection) -> None:
            if replace_all:
                db.execute("DELETE FROM offer_titles")
                db.execute("DELETE FROM offer_regular_prices")
                db.execute("DELETE FROM offers")
            else:
                db.executemany("DELETE FROM offer_titles WHERE offer_id = ?", ((row[0],) for row in rows))
                db.executemany("DELETE FROM offer_regular_prices WHERE offer_id = ?", ((row[0],) for row in rows))
            db.executemany("INSERT OR REPLACE INTO offers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            db.executemany("INSERT INTO offer_titles(offer_id, language, title) VALUES (?, ?, ?)", titles)
            db.executemany("INSERT INTO offer_regular_prices(offer_id, regular_price_cents) VALUES (?, ?)",
                           regular_prices)
            db.execute(
                "INSERT INTO meta(key, value) VALUES ('catalogue_version', '1') ON CONFLICT(key)"
                " DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
            )
        self._write(work)

    def catalogue_version(self) -> str:
        """Changes whenever the offer catalogue is written (cheap enough to check on every scan)."""
        return self.get_meta("catalogue_version") or "0"

    def clear(self) -> None:
        """Delete every customer, product, purchase and offer (used to re-seed a demo store)."""
        def work(db: sqlite3.Connection) -> None:
            for table in ("purchases", "offer_titles", "offer_regular_prices", "offers", "customers", "products"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM meta WHERE key != 'schema_version'")
        self._write(work)

    def sku_ids(self) -> dict[str, int]:
        return dict(self._query("SELECT sku, product_id FROM products"))

    def card_ids(self) -> dict[str, int]:
        return dict(self._query("SELECT card_id, customer_id FROM customers"))

