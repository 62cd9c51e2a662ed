"""The Spark engine: the same build on Apache Spark (`local[2]` here, any cluster URL in production).

Why this split: nothing of the kiosk's ranker is re-implemented in Spark. The members' lines are partitioned by
member; on each partition the kiosk's own code counts what the population statistics need
(`offer_features.partial_stats`, in `mapInPandas`), Spark adds the partitions' counts up (a group-by-sum, which is
how partials merge) and the driver finalises them into the kiosk's `PopulationStats`
(`offer_features.finalise_stats`). The ranker's weights are fitted on the driver by the kiosk's
`offer_training.learn_from`, on the same sample of members the kiosk's `learn_weights` would draw, with the
statistics of the history before the learning window (merged the same way). Then every partition ranks its
members with the kiosk's `MemberOfferRanker` (`population.rank_population`), the model broadcast to it.
`tests/integration/test_offers_build_spark.py` holds both engines to the same model and identical offer lists
on the Ta-Feng file.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from central.offers_build.errors import BuildInputError
from central.offers_build.export import (
    COLUMN_RULES, EPOCH_ORDINAL, MAX_REPORTED, TRANSACTION_COLUMNS, Catalogue, after_build_date, check_columns,
    first_line,
)
from central.offers_build.population import BuildSettings, rank_population
from central.offers_build.ranking import Ranking
from central.offers_build.stats_blobs import partial_bytes, partial_from_bytes
from kiosk.services.loyalty import CatalogueOffer
from kiosk.services.offer_features import (
    PopulationStats, StatsPartial, finalise_stats, merge_partials, partial_stats,
)
from kiosk.services.offer_ranker import RankerWeights
from kiosk.services.offer_ranking_model import (
    RankingModel, category_codes, default_weights, learning_split, sample_rows,
)
from kiosk.services.offer_training import learn_from, next_basket_snapshot
from kiosk.services.purchase_log import PurchaseLog
from kiosk.services.records import Offer, OfferReason, ReasonKind

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import Column, DataFrame, SparkSession


LINES_PER_TASK = 500_000  # ranking tasks hold one partition's rows in pandas
RESULT_SCHEMA = ("member string, rank int, offer_id string, rule string, reason string, score double, category string, "
                 "why_kind string, why_days int, why_anchor string, why_anchor_offer string")
COUNT_SCHEMA = "stats string, member string, blob binary"  # "now"/"before": a partition's counts; "learner": a member
MERGE_FAN_IN = 8  # partitions' counts merged at once on the driver
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
    try:
        return builder.getOrCreate()
    except Exception as exc:  # no Java, a wrong master URL: PySparkRuntimeError / Py4JJavaError with a traceback
        raise BuildInputError(f"--engine spark: cannot start Spark (master {master}): {first_line(exc)}; is Java "
                              "installed (Debian: default-jre-headless) and the master URL right?") from None


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
        raise BuildInputError(f"{path}: cannot read: {first_line(exc)}") from None
    # Spark's CSV reader renames a header's repeated names to name + position ("store3", "store6"): named back,
    # the check says "store appears more than once" as for the embedded engine, not "missing column store"
    check_columns(path, [next((c for c in TRANSACTION_COLUMNS if name == f"{c}{i}"), name)
                         for i, name in enumerate(df.columns)])
    return df.select(*[F.trim(_as_text(df, c)).alias(c) for c in TRANSACTION_COLUMNS])


def _as_text(df: "DataFrame", name: str) -> "Column":
    """A column as the text the checks read, written as pyarrow writes it for the embedded engine: a whole
    floating-point quantity (Parquet doubles 1.0) as "1", not Spark's "1.0" that the whole-number rule refused."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    column = F.col(name)
    if name == "quantity" and isinstance(df.schema[name].dataType, (DoubleType, FloatType)):
        whole = ~F.isnan(column) & (F.abs(column) < 1e9) & (column == F.floor(column))
        return F.when(whole, column.cast("long").cast("string")).otherwise(column.cast("string"))
    return column.cast("string")


@dataclass(frozen=True)
class CheckedLines:
    """The export's lines with quantity > 0 as (member, day, product, store), read once and cached."""

    lines: "DataFrame"
    skipped_returns: int
    last_day: int | None  # the newest purchase day (date ordinal); None without lines
    cached: "DataFrame"  # what to unpersist when done

    def release(self) -> None:
        self.cached.unpersist()


def _checked_lines(spark: "SparkSession", path: Path, catalogue: Catalogue) -> CheckedLines:
    """The lines with quantity > 0, the number of skipped returns, the last day; one pass over the file.

    Raises BuildInputError naming the file, column and value of up to 20 bad values (Spark keeps no row
    numbers; the embedded engine names the row too).
    """
    from pyspark.sql import functions as F

    df = _read(spark, path)
    skus = spark.createDataFrame([(s, i) for s, i in catalogue.sku_ids.items()], "sku string, product_id long")
    df = df.join(F.broadcast(skus), df["product"] == skus["sku"], "left").drop("sku").cache()
    day = (F.datediff(F.to_date("date", "yyyy-MM-dd"), F.lit("1970-01-01")) + F.lit(EPOCH_ORDINAL)).cast("long")
    checks = [(name, ~F.coalesce(F.col(name).rlike(pattern), F.lit(False)), problem)
              for name, (pattern, problem) in _CHECKS.items()]  # (column, flag, problem), as the embedded reader
    valid_date = F.to_date("date", "yyyy-MM-dd").isNotNull() & (day >= 1)  # day 1 = 0001-01-01 (not year 0000)
    checks = [(n, f | ~F.coalesce(valid_date, F.lit(False)), p) if n == "date" else (n, f, p) for n, f, p in checks]
    checks.append(("date", F.coalesce(day > F.lit(catalogue.build_date.toordinal()), F.lit(False)),
                   after_build_date(catalogue.build_date)))
    checks.append(("product", F.col("product_id").isNull(), "is not a sku of the products file"))
    quantity = F.col("quantity").cast("long")
    try:  # the first pass reads the file: a cut-short .gz or a damaged Parquet page fails here, in the JVM
        counts = df.select(*[F.sum(F.when(flag, 1).otherwise(0)).alias(f"bad{i}") for i, (_, flag, _) in enumerate(checks)],
                           F.sum(F.when(quantity <= 0, 1).otherwise(0)).alias("skipped"),
                           F.max(F.when(quantity > 0, day)).alias("last_day")).first()  # one pass, then cached
    except Exception as exc:  # Py4JJavaError and Spark's own errors: their first useful line
        df.unpersist()
        raise BuildInputError(f"{path}: cannot read: {first_line(exc)}") from None
    total = sum(int(counts[f"bad{i}"] or 0) for i in range(len(checks)))
    if total:
        parts = []
        for i, (name, flag, problem) in enumerate(checks):
            if counts[f"bad{i}"]:
                for row in df.filter(flag).select(F.col(name).alias("value")).limit(MAX_REPORTED - len(parts)).collect():
                    parts.append(f"column {name}: {problem} (got {str(row['value'])[:40]!r})")
            if len(parts) >= MAX_REPORTED:
                break
        more = f" (and {total - len(parts)} more)" if total > len(parts) else ""
        df.unpersist()
        raise BuildInputError(f"{path}: nothing written, {total} bad value(s): " + "; ".join(parts) + more)
    skipped = int(counts["skipped"] or 0)
    lines = df.filter(quantity > 0).select("member", day.alias("day"), F.col("product_id").alias("product"), "store")
    last_day = counts["last_day"]
    return CheckedLines(lines, skipped, None if last_day is None else int(last_day), df)


def _partition_log(rows: "pd.DataFrame", product_category: np.ndarray) -> tuple[PurchaseLog, np.ndarray]:
    """One partition's lines as a PurchaseLog (members coded in card-number order) and the card numbers."""
    import pandas as pd

    codes, cards = pd.factorize(rows["member"], sort=True)
    log = PurchaseLog.build(codes.astype(np.int64), rows["day"].to_numpy(np.int64), rows["product"].to_numpy(np.int64),
                            product_category, max(len(cards), 1))
    return log, np.asarray(cards, dtype=object)


def _counter(product_category: np.ndarray, today: int, split: int) -> Callable[..., Iterator["pd.DataFrame"]]:
    """The mapInPandas function of the statistics pass: per partition (all lines of its members), the counts
    of the stats as of `today` ("now"), those of the history before `split` ("before", for fitting the
    weights), and the members who qualify as learners (the kiosk's `next_basket_snapshot` rule)."""
    def count(batches: "Iterator[pd.DataFrame]") -> "Iterator[pd.DataFrame]":
        import pandas as pd

        frames = list(batches)
        if not frames:
            return
        log, cards = _partition_log(pd.concat(frames, ignore_index=True), product_category)
        learners = cards[next_basket_snapshot(log, split).customers].tolist()
        yield pd.DataFrame({
            "stats": ["now", "before", *(["learner"] * len(learners))],
            "member": [None, None, *learners],
            "blob": [partial_bytes(partial_stats(log, today)),
                     partial_bytes(partial_stats(log.select(log.day < split), split)), *([None] * len(learners))],
        })

    return count


class _Merger:
    """The kiosk's `merge_partials` over partitions' counts as they arrive, MERGE_FAN_IN at a time (memory: the
    merged counts plus a few partitions')."""

    def __init__(self) -> None:
        self.merged: StatsPartial | None = None
        self.waiting: list[StatsPartial] = []

    def add(self, blob: bytes) -> None:
        self.waiting.append(partial_from_bytes(blob))
        if len(self.waiting) >= MERGE_FAN_IN:
            self._flush()

    def _flush(self) -> None:
        self.merged = merge_partials(([self.merged] if self.merged is not None else []) + self.waiting)
        self.waiting = []

    def result(self) -> StatsPartial:
        if self.waiting or self.merged is None:
            self._flush()
        assert self.merged is not None
        return self.merged


def learn_model(by_member: "DataFrame", catalogue: Catalogue, today: int, last_day: int) -> RankingModel:
    """The kiosk's RankingModel of the chain (what `offer_ranking_model.learn_from_log` learns from one log).

    One pass: the partitions' counts stream to the driver (`toLocalIterator`, a partition at a time, so neither
    the JVM nor the driver holds every partition's pair table at once) and are merged as they come."""
    # every product of the lines is one of the catalogue's (the checks above): chain_log's n_products
    product_category, names = category_codes(catalogue.products, max(catalogue.products, default=0) + 1)
    split = learning_split(last_day)
    counted = by_member.mapInPandas(_counter(product_category, today, split), COUNT_SCHEMA)
    mergers = {"now": _Merger(), "before": _Merger()}
    learners: list[str] = []
    for row in counted.toLocalIterator(prefetchPartitions=True):
        if row["stats"] == "learner":
            learners.append(row["member"])
        else:
            mergers[row["stats"]].add(row["blob"])
    now = finalise_stats(mergers["now"].result())
    weights = _learn_weights(by_member, np.sort(np.asarray(learners, dtype=object)), split,
                             lambda: finalise_stats(mergers["before"].result()))
    return RankingModel(now, weights or default_weights(), names, weights is not None)


def _learn_weights(by_member: "DataFrame", learners: np.ndarray, split: int,
                   before: Callable[[], PopulationStats]) -> RankerWeights | None:
    """`learn_weights` of the kiosk for the chain: the same sample of learners (in card-number order, as the
    embedded engine codes members), their lines collected to the driver, and the population stats of the
    history before the split (`before`, from the merged counts)."""
    from pyspark.sql import functions as F

    rows = sample_rows(len(learners))
    if rows is None:
        return None
    stats = before()
    chosen = by_member.sparkSession.createDataFrame([(str(c),) for c in learners[rows]], "member string")
    lines = by_member.join(F.broadcast(chosen), "member", "left_semi").toPandas()
    log, _ = _partition_log(lines, stats.product_category)
    return learn_from([next_basket_snapshot(log, split)], [stats])


def _ranker(model: RankingModel, settings: BuildSettings) -> Callable[..., Iterator["pd.DataFrame"]]:
    """The mapInPandas function of the ranking pass: one partition's rows in, the offers of its members out.

    `repartition("member")` puts all of a member's rows into one partition; the partition's Arrow batches are
    joined and ranked by `rank_population` (the kiosk engine's code). Memory per task: one partition's rows.
    """
    def rank(batches: "Iterator[pd.DataFrame]") -> "Iterator[pd.DataFrame]":
        import pandas as pd

        frames = list(batches)
        if not frames:
            return
        rows = pd.concat(frames, ignore_index=True)
        codes, members = pd.factorize(rows["member"], sort=True)
        out = [
            (members[ranked.member], n, o.offer_id, str(o.rule), o.reason, float(o.score), o.category,
             *((o.why.kind.value, o.why.days, o.why.anchor, o.why.anchor_offer) if o.why else (None,) * 4))
            for ranked in rank_population(model, settings, codes.astype(np.int64), rows["day"].to_numpy(np.int64),
                                          rows["product"].to_numpy(np.int64))
            for n, o in enumerate(ranked.offers)
        ]
        frame = pd.DataFrame(out, columns=["member", "rank", "offer_id", "rule", "reason", "score", "category",
                                           "why_kind", "why_days", "why_anchor", "why_anchor_offer"])
        yield frame.astype({"rank": "int32", "why_days": "Int32"})

    return rank


def rank_spark(
    path: Path, catalogue: Catalogue, settings: BuildSettings, master: str = "local[2]",
    spark: "SparkSession | None" = None, stores: tuple[str, ...] | None = None,
) -> Ranking:
    """Check, learn from every line and rank every member (or those who shop in `stores`) on Spark; the
    session is made (and stopped) here unless one is given."""
    from pyspark.sql import functions as F

    own = spark is None
    session = spark or spark_session(master)
    try:
        started = time.perf_counter()
        checked = _checked_lines(session, Path(path), catalogue)
        lines, skipped = checked.lines, checked.skipped_returns
        members_of = lines.select("store", "member").distinct().toPandas()
        if stores is not None:
            missing = sorted(set(stores) - set(members_of["store"]))
            if missing:
                known = ", ".join(sorted(set(members_of["store"])))
                raise BuildInputError(f"--store {missing[0]}: not a store of the export (it has: {known})")
            members_of = members_of[members_of["store"].isin(list(stores))]
        line_count = checked.cached.count() - skipped  # from the cache
        if line_count == 0:  # nothing to learn from or rank (merge_partials needs one partition's counts)
            checked.release()
            return Ranking({}, {}, 0, skipped, time.perf_counter() - started, 0.0, None)
        partitions = max(session.sparkContext.defaultParallelism * 2, line_count // LINES_PER_TASK)
        by_member = lines.select("member", "day", "product").repartition(partitions, "member").cache()
        by_member.count()
        checked.release()
        today = settings.today.toordinal()
        model = learn_model(by_member, catalogue, today, checked.last_day if checked.last_day is not None else today)
        learned = time.perf_counter()
        to_rank = by_member
        if stores is not None:
            wanted = session.createDataFrame(sorted(set(members_of["member"])), "string").toDF("member")
            to_rank = by_member.join(F.broadcast(wanted), "member", "left_semi")
        table = to_rank.mapInPandas(_ranker(model, settings), RESULT_SCHEMA).toPandas()
        by_member.unpersist()
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
    """A ranked row back as the Offer the kiosk engine made (titles in the catalogue's default language)."""
    import pandas as pd

    why = None
    if isinstance(row.why_kind, str):
        why = OfferReason(ReasonKind(row.why_kind), None if pd.isna(row.why_days) else int(row.why_days),
                          row.why_anchor if isinstance(row.why_anchor, str) else None,
                          row.why_anchor_offer if isinstance(row.why_anchor_offer, str) else None)
    return Offer(
        offer_id=item.offer_id, title=item.title, icon=item.icon, price_cents=item.price_cents,
        discount_percent=item.discount_percent, valid_until=item.valid_until, category=row.category,
        reason=row.reason, rule=row.rule, score=row.score, why=why, regular_price_cents=item.regular_price_cents,
    )
