"""One engine's run for `bench-offers-build`, in its own process (so its memory is its own): prints JSON.

Usage: python -m devtools.bench_offers_build_worker ENGINE FILES_DIR STORE BUILD_DATE
"""
from __future__ import annotations

import json
import logging
import sys
import time
from datetime import date
from pathlib import Path

from central.offers_build.export import read_catalogue, read_transactions
from central.offers_build.population import BuildSettings
from kiosk.services.offer_ranker import PickRules


def main(argv: list[str]) -> int:
    engine, folder, store, day = argv[0], Path(argv[1]), argv[2], date.fromisoformat(argv[3])
    logging.basicConfig(level=logging.WARNING)
    catalogue = read_catalogue(folder / "products.csv", folder / "offers.csv", day)
    settings = BuildSettings(day, catalogue.products, catalogue.offers, 5, 3, PickRules(2, 0.25))  # kiosk defaults
    started = time.perf_counter()
    if engine == "embedded":
        from central.offers_build.embedded import rank_embedded

        tx = read_transactions(folder / "transactions.parquet", catalogue)
        read_s = time.perf_counter() - started
        ranking = rank_embedded(settings, tx, stores=(store,))
        learn_s, all_members = read_s + ranking.learn_s, len(tx.members)
    else:
        from pyspark.sql import functions as F

        from central.offers_build.spark_engine import rank_spark, spark_session

        spark = spark_session()
        try:
            ranking = rank_spark(folder / "transactions.parquet", catalogue, settings, spark=spark, stores=(store,))
            all_members = spark.read.parquet(str(folder / "transactions.parquet")).select(F.countDistinct("member")).first()[0]
        finally:
            spark.stop()
        learn_s = ranking.learn_s  # includes Spark's read and checks
    print(json.dumps({
        "lines": ranking.lines, "learn_s": round(learn_s, 2), "rank_s": round(ranking.rank_s, 2),
        "ranked_members": len(ranking.offers), "all_members": int(all_members),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
