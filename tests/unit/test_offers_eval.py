"""offers-eval: reading retail files, the protocols, the metrics, our baselines and the command itself."""
from __future__ import annotations

import csv
import gzip
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from kiosk.cli import main as cli_main
from kiosk.evaluation import baselines
from kiosk.evaluation.metrics import score
from kiosk.evaluation.protocol import Protocol, Split, global_split, last_basket, make_split
from kiosk.evaluation.retail_data import RetailDataError, load_retail
from kiosk.services.purchase_log import NO_CATEGORY, PurchaseLog

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "retail_small.csv"
HEADER = ["customer_id", "basket_id", "date", "product_id", "category"]


def write(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def day(text: str) -> int:
    return date.fromisoformat(text).toordinal()


# ----- reading -------------------------------------------------------------------------------------------
def test_reads_the_fixture_and_keeps_outside_ids(tmp_path: Path) -> None:
    gz = tmp_path / "small.csv.gz"
    gz.write_bytes(gzip.compress(FIXTURE.read_bytes()))
    for path in (FIXTURE, gz):
        data = load_retail(path)
        assert data.log.n_customers == 14 and "00000001" in data.customer_ids
        assert data.rows_without_category > 0  # P12 has no category: counted, not an error
        assert data.log.product_category[data.product_ids.index("P12")] == NO_CATEGORY
        assert data.log.product_category[data.product_ids.index("P01")] >= 0


@pytest.mark.parametrize("rows, header, expected", [
    ([["1", "1", "2001-01-01", "A", "x"]], ["customer_id", "date", "product_id"],
     "row 1: missing column(s) basket_id"),
    ([["1", "1", "2001-01-01", "A", "x"], ["1", "2", "01/02/2001", "A", "x"]], HEADER,
     "row 3, column date: '01/02/2001' is not a date YYYY-MM-DD"),
    ([["1", "1", "2001-01-01", "", "x"]], HEADER, "row 2, column product_id: is empty"),
    ([["1", "one", "2001-01-01", "A", "x"]], HEADER, "row 2, column basket_id: 'one' is not an integer"),
    ([["1", "1", "2001-01-01", "A"]], HEADER, "row 2: 4 fields, the header has 5"),
    ([], HEADER, "no data rows"),
])
def test_bad_files_name_file_row_and_column(tmp_path: Path, rows, header, expected) -> None:
    path = write(tmp_path / "bad.csv", rows, header)
    with pytest.raises(RetailDataError) as caught:
        load_retail(path)
    assert str(caught.value).startswith(f"{path}: {expected}")


def test_missing_file_and_binary_garbage(tmp_path: Path) -> None:
    with pytest.raises(RetailDataError, match="no such file"):
        load_retail(tmp_path / "nope.csv")
    (tmp_path / "bad.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(RetailDataError, match="cannot be read"):
        load_retail(tmp_path / "bad.csv.gz")


# ----- protocols -----------------------------------------------------------------------------------------
def _tiny(tmp_path: Path) -> Path:
    rows = [
        ["a", "1", "2001-01-05", "milk", "1"], ["a", "2", "2001-01-20", "milk", "1"], ["a", "2", "2001-01-20", "tea", "2"],
        ["a", "3", "2001-02-03", "milk", "1"], ["a", "3", "2001-02-03", "jam", "3"], ["a", "4", "2001-02-10", "tea", "2"],
        ["b", "5", "2001-01-25", "tea", "2"], ["b", "6", "2001-02-02", "tea", "2"],  # one input basket: not scored
        ["c", "7", "2000-12-01", "jam", "3"], ["c", "8", "2000-12-20", "milk", "1"], ["c", "9", "2001-01-02", "tea", "2"],
    ]
    return write(tmp_path / "tiny.csv", rows)


def test_global_split_targets_the_first_basket_after_the_split(tmp_path: Path) -> None:
    data = load_retail(_tiny(tmp_path))
    test = make_split(data.log, Protocol.GLOBAL_SPLIT, validation=False)
    assert [data.customer_ids[c] for c in test.customers] == ["a"]
    assert sorted(data.product_ids[p] for p in test.target(0)) == ["jam", "milk"]
    assert test.history.day.max() < day("2001-02-01") and len(test.history) == 7
    validation = make_split(data.log, Protocol.GLOBAL_SPLIT, validation=True)
    assert [data.customer_ids[c] for c in validation.customers] == ["c"]  # a has 0 baskets before 2001-01-01
    assert [data.product_ids[p] for p in validation.target(0)] == ["tea"]
    assert validation.history.day.max() < day("2001-01-01")


def test_last_basket_split_and_its_validation(tmp_path: Path) -> None:
    data = load_retail(_tiny(tmp_path))
    test = last_basket(data.log, "test")
    assert sorted(data.customer_ids[c] for c in test.customers) == ["a", "c"]
    a = [data.customer_ids[c] for c in test.customers].index("a")
    assert [data.product_ids[p] for p in test.target(a)] == ["tea"] and test.as_of[a] == day("2001-02-10")
    validation = last_basket(data.log, "validation", drop_last=1)
    assert [data.customer_ids[c] for c in validation.customers] == ["a"]
    assert sorted(data.product_ids[p] for p in validation.target(0)) == ["jam", "milk"]
    # input: a's first two baskets (3 lines), none of b (2 baskets: one dropped, one target), c's first basket
    assert len(validation.history) == 3 + 0 + 1


def test_orders_on_one_day_stay_separate_baskets() -> None:
    log = PurchaseLog.build(np.array([0, 0, 0]), np.array([5, 5, 5]), np.array([1, 2, 1]), np.zeros(3, dtype=np.int64),
                            1, order=np.array([1, 2, 2]))
    assert log.n_baskets == 2 and log.basket.tolist() == [0, 1, 1]


# ----- metrics -------------------------------------------------------------------------------------------
def test_metrics_by_hand() -> None:
    # member 0 bought product 1 before; target {1, 2, 3}; offers [1, 9, 2, 8, ...]
    history = PurchaseLog.build(np.array([0, 1]), np.array([1, 1]), np.array([1, 4]), np.zeros(12, dtype=np.int64), 2)
    split = Split("t", history, np.array([0, 1]), np.array([9, 9]), np.array([0, 3, 4]), np.array([1, 2, 3, 5]))
    ranked = np.array([[1, 9, 2, 8, 7, 6, 10, 11, 0, 4], [5, 0, 2, 3, 6, 7, 8, 9, 10, 11]])
    m = score(split, "x", ranked, 0.0)
    assert m.recall6 == pytest.approx((2 / 3 + 1) / 2)
    assert m.precision6 == pytest.approx((2 / 6 + 1 / 6) / 2)
    idcg0 = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert m.ndcg6 == pytest.approx(((1 + 1 / np.log2(4)) / idcg0 + 1.0) / 2)
    assert m.hit10 == 1.0 and m.rep_ratio10 == pytest.approx(0.05)  # member 0: 1 of 10 offers is a repeat
    assert m.recall_rep10 == pytest.approx(1.0)  # only member 0 has a repeat target (product 1), hit
    assert m.recall_expl10 == pytest.approx((1 / 2 + 1) / 2)


# ----- baselines -----------------------------------------------------------------------------------------
def _random_log(seed: int, customers: int = 30, products: int = 25) -> PurchaseLog:
    rng = np.random.default_rng(seed)
    lines = rng.integers(0, customers, 900), rng.integers(0, 40, 900), rng.integers(0, products, 900)
    return PurchaseLog.build(lines[0], lines[1], lines[2], np.zeros(products, dtype=np.int64), customers)


def _tifu_reference(baskets: list[list[int]], n_products: int, p: baselines.TifuParams) -> np.ndarray:
    """TIFU's personal vector, transcribed loop by loop from the authors' grouping and decays."""
    vectors = []
    for i, basket in enumerate(baskets):
        v = np.zeros(n_products)
        v[basket] = p.within_decay ** (len(baskets) - 1 - i)
        vectors.append(v)
    n, m = len(vectors), p.group_count
    if n < m:
        groups = [[v] for v in vectors]
    else:
        base, extra = n // m, n % m
        sizes = [base] * (m - extra) + [base + 1] * extra
        starts = np.cumsum([0] + sizes)
        groups = [vectors[starts[g]:starts[g + 1]] for g in range(m)]
    total = np.zeros(n_products)
    for g, members in enumerate(groups):
        total += np.mean(members, axis=0) * p.group_decay ** (m - 1 - g)
    return total / len(groups)


@pytest.mark.parametrize("params", [baselines.AUTHORS_TAFENG, baselines.TifuParams(3, 0.8, 0.6, 5, 0.5)])
def test_tifu_vectors_match_the_authors_loops(params: baselines.TifuParams) -> None:
    log = _random_log(3)
    vectors = baselines.tifu_vectors(log, params).toarray()
    for customer in range(log.n_customers):
        mine = log.customer == customer
        baskets = [log.product[mine][log.basket[mine] == b].tolist() for b in np.unique(log.basket[mine])]
        expected = _tifu_reference(baskets, log.n_products, params) if baskets else np.zeros(log.n_products)
        np.testing.assert_allclose(vectors[customer], expected, atol=1e-12)


def test_p_top_freq_orders_own_products_and_fills_with_popular() -> None:
    # member 0 bought 3 twice and 5 once; 7 is the most popular product overall
    customer = np.array([0, 0, 0, 1, 2, 3, 1])
    basket_day = np.array([1, 2, 2, 1, 1, 1, 2])
    product = np.array([3, 3, 5, 7, 7, 7, 5])
    log = PurchaseLog.build(customer, basket_day, product, np.zeros(12, dtype=np.int64), 4)
    split = Split("t", log, np.array([0]), np.array([9]), np.array([0, 1]), np.array([3]))
    assert baselines.p_top_freq(split)[0, :4].tolist() == [3, 5, 7, 0]
    assert baselines.popularity(split)[0, :3].tolist() == [7, 3, 5]


def test_tifu_knn_with_alpha_one_is_the_personal_vector() -> None:
    log = _random_log(4)
    split = Split("t", log, np.arange(5), np.full(5, 99), np.arange(6), np.arange(5))
    params = baselines.TifuParams(3, 0.9, 0.7, 4, 1.0)
    lists = baselines.tifu_knn(split, params, chunk=2)
    own = baselines.tifu_vectors(log, params).toarray()
    for i in range(5):
        assert own[i, lists[i, 0]] == own[i].max()
    neighbours = baselines.tifu_knn(split, baselines.TifuParams(3, 0.9, 0.7, 4, 0.0))
    assert not np.array_equal(lists, neighbours)  # alpha 0: only the neighbours count


# ----- the command ---------------------------------------------------------------------------------------
def test_offers_eval_prints_every_method_and_dumps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "ranked.csv"
    assert cli_main(["offers-eval", "--data", str(FIXTURE), "--dump", str(dump), "--previous", "5",
                     "--discovery-share", "0,0.5"]) == 0
    out = capsys.readouterr().out
    for method in ("| popularity |", "| P-TopFreq |", "| TIFU-KNN, authors' Ta-Feng params |",
                   "| TIFU-KNN, README's tuned params |", "| ranker (cap 2, discovery 0%) |",
                   "| ranker (cap 2, discovery 50%) |",
                   "| previous engine (rules) |"):
        assert method in out
    assert "12 evaluated members" in out and "recall_expl@10" in out
    with open(dump, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 * 10 and rows[0]["rank"] == "1" and rows[0]["member_id"].startswith("0000")
    assert {r["product_id"] for r in rows} <= {f"P{i:02d}" for i in range(1, 13)}


def test_offers_eval_last_basket(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["offers-eval", "--data", str(FIXTURE), "--protocol", "last-basket", "--members", "6"]) == 0
    assert "random sample of 6 members" in capsys.readouterr().out


@pytest.mark.parametrize("argv, expected", [
    (["--data", "{bad}"], "row 3, column date: 'tomorrow' is not a date YYYY-MM-DD"),
    (["--data", "{missing}"], "no such file"),
    (["--data", "{fixture}", "--discovery-share", "2"], "--discovery-share: must be 0..1 (got 2)"),
    (["--data", "{fixture}", "--dump", "{nodir}"], "--dump"),
])
def test_offers_eval_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv, expected
                                                  ) -> None:
    bad = write(tmp_path / "bad.csv", [["1", "1", "2001-01-01", "A", "x"], ["1", "2", "tomorrow", "A", "x"]])
    names = {"bad": str(bad), "missing": str(tmp_path / "missing.csv"), "fixture": str(FIXTURE),
             "nodir": str(tmp_path / "no" / "such" / "dir" / "x.csv")}
    with pytest.raises(SystemExit) if "--discovery-share" in argv else _no_exit():
        code = cli_main(["offers-eval", *[a.format(**names) for a in argv]])
        assert code == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


class _no_exit:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


def test_member_without_history_gets_no_evaluation_but_counts(tmp_path: Path, capsys) -> None:
    assert cli_main(["offers-eval", "--data", str(FIXTURE), "--members", "3"]) == 0
    assert "members without enough history or no target basket are not scored" in capsys.readouterr().out


def test_the_dump_does_not_carry_formulas_from_the_retail_file(tmp_path: Path) -> None:
    """Ids come from the retail file; one like =P01 or +00000001 was written as is, and a spreadsheet opening
    the dump runs it as a formula (=cmd|' /C calc'!A0 ...). Such cells are quoted as central's CSV exports
    quote them (a leading ')."""
    data = tmp_path / "retail.csv"
    data.write_text(FIXTURE.read_text().replace(",P", ",=P").replace("\n0000", "\n+0000"))
    dump = tmp_path / "ranked.csv"
    assert cli_main(["offers-eval", "--data", str(data), "--dump", str(dump), "--members", "12"]) == 0
    with open(dump, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(r["product_id"].startswith("'=P") and r["member_id"].startswith("'+0000") for r in rows)
