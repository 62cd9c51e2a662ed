"""The Spark engine: the same build on Apache Spark (`local[2]` here, any cluster URL in production).

Why this split: what needs the whole chain's purchases (who buys what, usual intervals, which products share
baskets) is computed as Spark aggregates and joins, exactly as the kiosk engine's numpy functions define them
(`kiosk.services.offers._distinct_buyers`, `_median_intervals`, `_neighbours`: same thresholds, same float
operations, same tie order), and becomes the kiosk's `OfferModel`. The per-member ranking is not
re-implemented at all: the members' rows go, partitioned by member, through `mapInPandas` to `rank_population`, which calls the
kiosk's `OfferEngine`. The test `tests/integration/test_offers_build_spark.py` holds both engines to identical
offer lists on the Ta-Feng file.
"""
from __future__ import annotations

import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from central.offers_build.errors import BuildInputError
from central.offers_build.export import COLUMN_RULES, EPOCH_ORDINAL, MAX_REPORTED, TRANSACTION_COLUMNS, Catalogue
from central.offers_build.population import rank_population
from central.offers_build.ranking import Ranking
from kiosk.services.loyalty import CatalogueOffer
from kiosk.services.offer_model import MIN_LIFT, MIN_PAIR_BASKETS, NEIGHBOURS, OfferModel
from kiosk.services.records import Offer

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession


LINES_PER_TASK = 500_000  # ranking tasks hold one partition's rows in pandas
RESULT_SCHEMA = "member string, rank int, offer_id string, rule string, reason string, score double, category string"
_CHECKS = COLUMN_RULES  # the embedded reader's own rules: column -> (regex, problem)


def spark_session(master: str = "local[2]", driver_memory: str | None = None) -> "SparkSession":
    """A Spark session whose Python workers run this interpreter (so they import the kiosk engine)."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master).appName("moodkiosk-offers-build")
        .config("spark.sql.ansi.enabled", "false")  # bad values become NULL, which the checks below report
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.shuffle.partitions", os.environ.get("MOODKIOSK_SPARK_PARTITIONS", "8"))
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", driver_memory or os.environ.get("MOODKIOSK_SPARK_DRIVER_MEMORY", "4g"))
    )
    return builder.getOrCreate()


def _read(spark: "SparkSession", path: Path) -> "DataFrame":
    from pyspark.sql import functions as F

    if not path.exists():
        raise BuildInputError(f"{path}: no such file")
    try:
        if path.suffix == ".parquet":
            df = spark.read.parquet(str(path))
        else:
            df = spark.read.option("header", True).option("inferSchema", False).csv(str(path))
    except Exception as exc:  # Spark's analysis errors carry JVM stack traces: one line is enough
        raise BuildInputError(f"{path}: cannot read: {str(exc).splitlines()[0]}") from None
    missing = [c for c in TRANSACTION_COLUMNS if c not in df.columns]
    if missing:
        raise BuildInputError(f"{path}: missing column(s) {', '.join(missing)} (the file has: {', '.join(df.columns)})")
    return df.select(*[F.trim(F.col(c).cast("string")).alias(c) for c in TRANSACTION_COLUMNS])


def _checked_lines(spark: "SparkSession", path: Path, catalogue: Catalogue) -> tuple["DataFrame", int]:
    """(member, day, product, store) of the lines with quantity > 0, and the number of skipped returns.

    Raises BuildInputError naming the file, column and value of up to 20 bad values (Spark keeps no row
    numbers; the embedded engine names the row too).
    """
    from pyspark.sql import functions as F

    df = _read(spark, path)
    skus = spark.createDataFrame([(s, i) for s, i in catalogue.sku_ids.items()], "sku string, product_id long")
    df = df.join(F.broadcast(skus), df["product"] == skus["sku"], "left").drop("sku")
    flags = {name: ~F.coalesce(F.col(name).rlike(pattern), F.lit(False)) for name, (pattern, _) in _CHECKS.items()}
    flags["date"] = flags["date"] | F.to_date("date", "yyyy-MM-dd").isNull()
    flags["product"] = F.col("product_id").isNull()
    problems = {name: problem for name, (_, problem) in _CHECKS.items()} | {"product": "is not a sku of the products file"}
    counts = df.select(*[F.sum(F.when(flag, 1).otherwise(0)).alias(name) for name, flag in flags.items()]).first()
    total = sum(int(counts[name] or 0) for name in flags)
    if total:
        parts = []
        for name, flag in flags.items():
            if counts[name]:
                for row in df.filter(flag).select(F.col(name).alias("value")).limit(MAX_REPORTED - len(parts)).collect():
                    parts.append(f"column {name}: {problems[name]} (got {str(row['value'])[:40]!r})")
            if len(parts) >= MAX_REPORTED:
                break
        more = f" (and {total - len(parts)} more)" if total > len(parts) else ""
        raise BuildInputError(f"{path}: nothing written, {total} bad value(s): " + "; ".join(parts) + more)
    quantity = F.col("quantity").cast("long")
    skipped = df.filter(quantity <= 0).count()
    lines = df.filter(quantity > 0).select(
        "member",
        (F.datediff(F.to_date("date", "yyyy-MM-dd"), F.lit("1970-01-01")) + F.lit(EPOCH_ORDINAL)).cast("long").alias("day"),
        F.col("product_id").alias("product"),
        "store",
    )
    return lines, skipped


def learn_model(lines: "DataFrame", catalogue: Catalogue) -> OfferModel:
    """The kiosk's `OfferModel`, its chain-wide aggregates computed by Spark (see the module docstring)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    buyers = {int(r[0]): int(r[1]) for r in
              lines.select("product", "member").distinct().groupBy("product").count().collect()}

    visits = lines.select("product", "member", "day").distinct()
    gap = F.col("day") - F.lag("day").over(Window.partitionBy("product", "member").orderBy("day"))
    gaps = visits.select("product", gap.alias("gap")).filter(F.col("gap") > 0)
    learned = {int(r[0]): float(r[1]) for r in
               gaps.groupBy("product").agg(F.count("gap").alias("n"), F.percentile("gap", 0.5).alias("median"))
               .filter(F.col("n") >= 3).select("product", "median").collect()}
    default_interval = {}
    for pid, prod in catalogue.products.items():
        if prod.kind == "consumable":
            value = prod.repurchase_days or learned.get(pid)
            if value:
                default_interval[pid] = float(value)

    baskets = lines.select("member", "day", "product").distinct().cache()
    total_baskets = baskets.select("member", "day").distinct().count()
    with_product = baskets.groupBy("product").count().withColumnRenamed("count", "baskets")
    a, b = baskets.alias("a"), baskets.alias("b")
    pairs = (
        a.join(b, (F.col("a.member") == F.col("b.member")) & (F.col("a.day") == F.col("b.day"))
               & (F.col("a.product") < F.col("b.product")))
        .groupBy(F.col("a.product").alias("x"), F.col("b.product").alias("y")).count()
        .withColumnRenamed("count", "together")
        .filter(F.col("together") >= MIN_PAIR_BASKETS)
        .join(with_product.select(F.col("product").alias("x"), F.col("baskets").alias("bx")), "x")
        .join(with_product.select(F.col("product").alias("y"), F.col("baskets").alias("by")), "y")
    )
    product_of_counts = (F.col("bx") * F.col("by")).cast("double")
    pairs = pairs.filter(F.col("together").cast("double") * F.lit(float(total_baskets)) / product_of_counts >= MIN_LIFT)
    pairs = pairs.withColumn("similarity", F.col("together").cast("double") / F.sqrt(product_of_counts))
    both = pairs.select(F.col("x").alias("a"), F.col("y").alias("b"), "similarity").unionByName(
        pairs.select(F.col("y").alias("a"), F.col("x").alias("b"), "similarity"))
    # the numpy code's order among equal similarities: partners above the product first, each ascending
    order = Window.partitionBy("a").orderBy(F.col("similarity").desc(), (F.col("b") < F.col("a")).asc(), F.col("b").asc())
    top = both.withColumn("n", F.row_number().over(order)).filter(F.col("n") <= NEIGHBOURS)
    neighbours: dict[int, list[tuple[int, float]]] = {}
    for row in top.orderBy("a", "n").collect():
        neighbours.setdefault(int(row["a"]), []).append((int(row["b"]), round(float(row["similarity"]), 4)))
    baskets.unpersist()
    return OfferModel(catalogue.products, buyers, default_interval, {k: tuple(v) for k, v in neighbours.items()})


def _ranker(model: OfferModel, offers: tuple[CatalogueOffer, ...], today: date, limit: int, min_offers: int):  # type: ignore[no-untyped-def]
    """The mapInPandas function: one partition's rows in, the offers of its members out.

    `repartition("member")` puts all of a member's rows into one partition; the partition's Arrow batches are
    joined and ranked in one `rank_population` call (the kiosk engine's code), which groups by member
    itself. (Relying on the rows' order within a partition instead proved wrong: a member's rows can come
    in two separate runs, and were ranked twice on half histories.) Memory per task: one partition's rows.
    """
    def rank(batches: "Iterator[pd.DataFrame]") -> "Iterator[pd.DataFrame]":
        import pandas as pd

        frames = list(batches)
        if not frames:
            return
        rows = pd.concat(frames, ignore_index=True)
        codes, members = pd.factorize(rows["member"], sort=False)
        out = [
            (members[ranked.member], n, o.offer_id, o.rule, o.reason, float(o.score), o.category)
            for ranked in rank_population(model, offers, codes.astype(np.int64), rows["day"].to_numpy(np.int64),
                                          rows["product"].to_numpy(np.int64), today, limit, min_offers)
            for n, o in enumerate(ranked.offers)
        ]
        yield pd.DataFrame(out, columns=["member", "rank", "offer_id", "rule", "reason", "score", "category"])

    return rank


def rank_spark(
    path: Path, catalogue: Catalogue, today: date, limit: int, min_offers: int,
    master: str = "local[2]", spark: "SparkSession | None" = None, stores: tuple[str, ...] | None = None,
) -> Ranking:
    """Check, learn from every line and rank every member (or those who shop in `stores`) on Spark; the
    session is made (and stopped) here unless one is given."""
    from pyspark.sql import functions as F

    own = spark is None
    session = spark or spark_session(master)
    try:
        started = time.perf_counter()
        lines, skipped = _checked_lines(session, Path(path), catalogue)
        lines = lines.cache()
        line_count = lines.count()
        model = learn_model(lines, catalogue)
        learned = time.perf_counter()
        pairs = lines.select("store", "member").distinct()
        to_rank = lines
        if stores is not None:
            known = {r[0] for r in lines.select("store").distinct().collect()}
            missing = sorted(set(stores) - known)
            if missing:
                raise BuildInputError(f"--store {missing[0]}: not a store of the export (it has: {', '.join(sorted(known))})")
            pairs = pairs.filter(F.col("store").isin(list(stores)))
            to_rank = lines.join(pairs.select("member").distinct(), "member", "left_semi")
        partitions = max(session.sparkContext.defaultParallelism * 2, line_count // LINES_PER_TASK)
        ranked = (
            to_rank.select("member", "day", "product").repartition(partitions, "member")
            .mapInPandas(_ranker(model, catalogue.offers, today, limit, min_offers), RESULT_SCHEMA)
        )
        table = ranked.toPandas()
        members_of = pairs.toPandas()
        lines.unpersist()
        ranked_at = time.perf_counter()
    finally:
        if own:
            session.stop()
    by_id = {item.offer_id: item for item in catalogue.offers}
    offers = {member: tuple(_offer(by_id[r.offer_id], r) for r in group.sort_values("rank").itertuples())
              for member, group in table.groupby("member", sort=False)}
    store_members = {str(store): tuple(sorted(group["member"].tolist()))
                     for store, group in members_of.groupby("store", sort=True)}
    return Ranking(offers, store_members, line_count, skipped, learned - started, ranked_at - learned, model)


def _offer(item: CatalogueOffer, row: "pd.Series") -> Offer:
    return Offer(
        offer_id=item.offer_id, title=item.title, icon=item.icon, price_cents=item.price_cents,
        discount_percent=item.discount_percent, valid_until=item.valid_until, category=row.category,
        reason=row.reason, rule=row.rule, score=row.score,
    )

