"""`offers-build --engine spark` (real Spark, local[2], one session for the module) against the embedded engine
on the shared Ta-Feng developer file: the same learned ranker model (stats and fitted weights) and identical
offer lists, rule, score and reasons."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from central.offers_build.embedded import rank_embedded
from central.offers_build.errors import BuildInputError
from central.offers_build.export import read_catalogue, read_transactions
from central.offers_build.population import BuildSettings
from central.offers_build.spark_engine import rank_spark, spark_session
from central.offers_build.tafeng import BUILD_DATE, tafeng_path, write_chain_files
from kiosk.config import OffersConfig
from kiosk.services.offer_ranker import PickRules

pytestmark = pytest.mark.timeout(1200)  # Spark's start and the model's joins; a few minutes on 2 quiet cores
STORE = "store-106"  # ~670 members: the ranking is compared member by member; the model is learned from all lines


@pytest.fixture(scope="module")
def spark():  # type: ignore[no-untyped-def]
    session = spark_session("local[2]", driver_memory="2g")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def tafeng(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    assert tafeng_path().is_file(), f"shared data missing: {tafeng_path()}"
    return write_chain_files(tmp_path_factory.mktemp("tafeng"), replicas=1, fmt="csv")


def settings_for(catalogue) -> BuildSettings:  # type: ignore[no-untyped-def]
    """The build's settings with the kiosk's default offer rules (category cap 2, discovery share 0.25)."""
    defaults = OffersConfig()
    return BuildSettings(BUILD_DATE, catalogue.products, catalogue.offers, 5, 3,
                         PickRules(defaults.category_cap, defaults.discovery_share))


def _coffee_catalogue(folder: Path) -> tuple[Path, Path]:
    """products.csv and offers.csv of one product (COF) with one offer valid in February-March 2001."""
    products = folder / "products.csv"
    products.write_text("sku,name,category,department,kind,repurchase_days,durable_days\nCOF,Coffee,coffee,d,consumable,7,\n")
    offers = folder / "offers.csv"
    offers.write_text("offer_id,title,icon,price,discount_percent,valid_from,valid_until,sku,category\n"
                      "o-1,Coffee,coffee,1.00,,2001-02-01,2001-03-31,COF,\n")
    return products, offers


def test_spark_and_embedded_give_identical_offers_on_tafeng(spark, tafeng) -> None:  # type: ignore[no-untyped-def]
    catalogue = read_catalogue(tafeng.products, tafeng.offers, BUILD_DATE)
    settings = settings_for(catalogue)
    embedded = rank_embedded(settings, read_transactions(tafeng.transactions, catalogue), stores=(STORE,))
    on_spark = rank_spark(tafeng.transactions, catalogue, settings, spark=spark, stores=(STORE,))

    assert on_spark.lines == embedded.lines == 573_114
    a, b = embedded.model, on_spark.model
    assert a is not None and b is not None
    assert a.learned_weights and b.learned_weights  # fitted on the chain's sample of members, not the shipped ones
    assert a.weights == b.weights
    assert a.category_names == b.category_names
    for name in a.stats.__dataclass_fields__:
        assert np.array_equal(getattr(a.stats, name), getattr(b.stats, name)), name
    assert (a.stats.cycle_days > 0).sum() > 1000 and (a.stats.neighbour >= 0).sum() > 10_000

    assert on_spark.store_members == embedded.store_members and len(embedded.store_members[STORE]) > 600
    assert set(on_spark.offers) == set(embedded.offers)
    listed = lambda offers: [(o.offer_id, o.rule, o.reason, o.score, o.category, o.why) for o in offers]  # noqa: E731
    differing = [m for m in embedded.offers if listed(embedded.offers[m]) != listed(on_spark.offers[m])]
    assert differing == []
    rules = {o.rule for offers in embedded.offers.values() for o in offers}
    assert {"repurchase", "together", "category", "popular"} <= rules  # the comparison covers every rule


def test_spark_names_file_column_and_value_of_bad_input(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    products, offers = _coffee_catalogue(tmp_path)
    catalogue = read_catalogue(products, offers, BUILD_DATE)
    bad = tmp_path / "transactions.csv"
    bad.write_text("member,date,product,store,quantity,amount\n"
                   "2900000000018,2001-02-01,COF,store-a,1,1.0\n"
                   "2900000000018,2001-02-30,COF,store-a,1,1.0\n"
                   "2900000000018,2001-02-03,TEA,store-a,1,1.0\n")
    with pytest.raises(BuildInputError) as error:
        rank_spark(bad, catalogue, settings_for(catalogue), spark=spark)
    message = str(error.value)
    assert "transactions.csv: nothing written, 2 bad value(s)" in message
    assert "column date: is not a date YYYY-MM-DD (got '2001-02-30')" in message
    assert "column product: is not a sku of the products file (got 'TEA')" in message
    missing = tmp_path / "short.csv"
    missing.write_text("member,date,product\n2900000000018,2001-02-01,COF\n")
    with pytest.raises(BuildInputError, match="short.csv: missing column.s. store, quantity, amount"):
        rank_spark(missing, catalogue, settings_for(catalogue), spark=spark)


def test_spark_refuses_what_the_embedded_engine_refuses(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A line dated after the build date (Spark and embedded scored it NaN: a one-line error naming no row or
    column) and a needed column twice: both engines refuse with one line naming file and column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    products, offers = _coffee_catalogue(tmp_path)
    catalogue = read_catalogue(products, offers, BUILD_DATE)
    later = tmp_path / "later.csv"
    later.write_text("member,date,product,store,quantity,amount\n"
                     "2900000000018,2001-02-01,COF,store-a,1,1.0\n"
                     "2900000000018,2001-03-02,COF,store-a,1,1.0\n")
    message = "column date: is after the build date 2001-03-01 (export up to it, or pass a later --date) (got '2001-03-02')"
    with pytest.raises(BuildInputError, match="later.csv: nothing written, 1 bad value") as on_spark:
        rank_spark(later, catalogue, settings_for(catalogue), spark=spark)
    with pytest.raises(BuildInputError) as embedded:
        read_transactions(later, catalogue)
    assert message in str(on_spark.value) and f"row 3, {message}" in str(embedded.value)
    impossible = tmp_path / "impossible.csv"  # embedded rolled 2001-02-29 over to 2001-03-01 and took year 0000
    impossible.write_text("member,date,product,store,quantity,amount\n"
                          "2900000000018,2001-02-29,COF,store-a,1,1.0\n2900000000018,0000-01-01,COF,store-a,1,1.0\n")
    for read in (lambda: rank_spark(impossible, catalogue, settings_for(catalogue), spark=spark),
                 lambda: read_transactions(impossible, catalogue)):
        with pytest.raises(BuildInputError, match="impossible.csv: nothing written, 2 bad value") as error:
            read()
        for value in ("2001-02-29", "0000-01-01"):
            assert f"column date: is not a date YYYY-MM-DD (got '{value}')" in str(error.value)
    table = pa.table({"member": ["2900000000018"], "date": ["2001-02-01"], "product": ["COF"], "store": ["store-a"],
                      "quantity": [1], "amount": [1.0]})
    twice = tmp_path / "twice.parquet"
    pq.write_table(table.append_column("store", pa.array(["store-z"])), twice)
    twice_csv = tmp_path / "twice.csv"  # Spark said "missing column(s) store (the file has: ..., store3, ..., store6)"
    twice_csv.write_text("member,date,product,store,quantity,amount,store\n2900000000018,2001-02-01,COF,store-a,1,1.0,x\n")
    for path in (twice, twice_csv):
        for read in (lambda: rank_spark(path, catalogue, settings_for(catalogue), spark=spark),
                     lambda: read_transactions(path, catalogue)):
            with pytest.raises(BuildInputError) as error:
                read()
            text = str(error.value)  # Spark refuses the Parquet itself while reading: "The column `store` already exists"
            assert f"{path.name}: " in text and ("column(s) store appear more than once" in text
                                                 or "column `store` already exists" in text), text
            assert len(text.splitlines()) == 1


def test_spark_reads_odd_files_as_the_embedded_engine_does(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A header-only export (Spark: IndexError in merge_partials), a cut-short .csv.gz (Spark: a 50-line
    Py4JJavaError) and a Parquet quantity column of doubles 1.0 (Spark: '1.0 is not a whole number', embedded
    took it): both engines now end alike, Spark's errors one line naming the file."""
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    from central.offers_build.embedded import rank_embedded

    products, offers = _coffee_catalogue(tmp_path)
    catalogue = read_catalogue(products, offers, BUILD_DATE)
    settings = settings_for(catalogue)
    header = "member,date,product,store,quantity,amount\n"
    lines = "".join(f"29000000000{n:02d},2001-02-{1 + n % 20:02d},COF,store-a,{1 if n % 7 else -1},1.0\n" for n in range(40))
    (tmp_path / "header.csv").write_text(header)
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress((header + lines * 50).encode())[:300])
    table = pa.table({"member": [f"29000000000{n:02d}" for n in range(40)], "date": ["2001-02-01"] * 40,
                      "product": ["COF"] * 40, "store": ["store-a"] * 40,
                      "quantity": [1.0 if n % 7 else -1.0 for n in range(40)], "amount": [1.0] * 40})
    pq.write_table(table, tmp_path / "doubles.parquet")

    def outcome(run):  # type: ignore[no-untyped-def]
        try:
            ranking = run()
        except BuildInputError as exc:
            assert len(str(exc).splitlines()) == 1, str(exc)
            return str(exc).split(":")[0]
        return (ranking.lines, ranking.skipped_returns, sorted(ranking.offers), ranking.store_members)

    for name in ("header.csv", "cut.csv.gz", "doubles.parquet"):
        path = tmp_path / name
        embedded = outcome(lambda: rank_embedded(settings, read_transactions(path, catalogue)))
        on_spark = outcome(lambda: rank_spark(path, catalogue, settings, spark=spark))
        assert on_spark == embedded, name
    assert outcome(lambda: rank_embedded(settings, read_transactions(tmp_path / "doubles.parquet", catalogue)))[:2] == (34, 6)
    assert outcome(lambda: rank_spark(tmp_path / "cut.csv.gz", catalogue, settings, spark=spark)) == str(tmp_path / "cut.csv.gz")


@pytest.mark.parametrize("env, extra, message", [
    ({"JAVA_HOME": "/nonexistent"}, [], "cannot start Spark (master local[2])"),
    ({}, ["--spark-master", "local[2"], "--spark-master: not a Spark master URL"),  # refused before a JVM starts
])
def test_spark_that_cannot_start_is_one_line(tmp_path: Path, env, extra, message) -> None:  # type: ignore[no-untyped-def]
    """No Java (a machine without default-jre-headless) or a wrong --spark-master ended in a PySparkRuntimeError
    traceback, exit 1 (after the JVM's own stack trace for the master URL)."""
    import os
    import subprocess
    import sys

    products, offers = _coffee_catalogue(tmp_path)
    lines = tmp_path / "transactions.csv"
    lines.write_text("member,date,product,store,quantity,amount\n2900000000018,2001-02-01,COF,store-a,1,1.0\n")
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "offers-build", "--transactions", str(lines), "--products", str(products),
         "--offers", str(offers), "--out", str(tmp_path / "out"), "--date", "2001-03-01", "--engine", "spark", *extra],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, MOODKIOSK_CARD_HASH_KEY="0123456789abcdef0123", **env))
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("moodkiosk offers-build: error: ") and message in last, last
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()
