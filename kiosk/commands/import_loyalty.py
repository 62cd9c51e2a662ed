"""`moodkiosk import-loyalty`: load products, customers, transactions and offers CSV files into the loyalty store."""
from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.config import load_config
from kiosk.errors import KioskError
from kiosk.services import loyalty_csv
from kiosk.services.cards import CardValidator
from kiosk.services.loyalty import LoyaltyStore
from kiosk.services.shop import make_engine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--config", help="kiosk config TOML; its loyalty store is the target (default: demo defaults)")
    where.add_argument("--db", type=Path, help="loyalty SQLite file to import into (instead of --config; card numbers "
                       "are then not checked against the config's [cards] formats)")
    parser.add_argument("--products", type=Path, help="products.csv: sku,name,category,department,kind,"
                        "repurchase_days,durable_days")
    parser.add_argument("--customers", type=Path, help="customers.csv: card_id,first_name,language")
    parser.add_argument("--transactions", type=Path, help="transactions.csv: card_id,date,sku,quantity")
    parser.add_argument("--offers", type=Path, help="offers.csv: offer_id,title,icon,price,discount_percent,"
                        "valid_from,valid_until,sku,category (replaces the catalogue)")
    parser.add_argument("--keep-offers", action="store_true", help="add/replace offers by id instead of replacing all")


def main(args: argparse.Namespace) -> int:
    files = [args.products, args.customers, args.transactions, args.offers]
    if not any(files):
        raise KioskError("nothing to import: give at least one of --products, --customers, --transactions, --offers")
    card_problem = None
    config = load_config(None if args.db else args.config)  # with --db: the defaults' [offers] engine
    if args.db:
        path = args.db  # no config: card numbers are checked for digits only, not for the kiosk's formats
    else:
        path = config.loyalty_db_path
        validator = CardValidator.from_config(config.cards)
        where = f"[cards] in {args.config}" if args.config else "[cards] of the demo defaults"

        def card_problem(card_id: str) -> str | None:
            reason = validator.check(card_id, "import").reason
            return None if reason is None else f"{reason} ({where})"
    with LoyaltyStore(path) as store:
        with store.transaction():  # every file or none of them
            done = []
            if args.products:
                done.append(loyalty_csv.import_products(store, args.products))
            if args.customers:
                done.append(loyalty_csv.import_customers(store, args.customers, card_problem))
            if args.transactions:
                done.append(loyalty_csv.import_transactions(store, args.transactions))
            if args.offers:
                done.append(loyalty_csv.import_offers(store, args.offers, replace_all=not args.keep_offers))
        for result in done:
            print(f"imported {result.rows} rows from {result.file}")
        if args.products or args.transactions:
            make_engine(store, config)  # learn the configured engine's model now, so the kiosk starts fast today
        counts = store.counts()
    print(f"{path}: {counts['customers']} customers, {counts['products']} products, "
          f"{counts['purchases']} purchases, {counts['offers']} offers")
    return 0
