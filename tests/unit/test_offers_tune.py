"""offers-tune: ranker variants compared on the validation split, learned only on targets before it."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from kiosk.cli import main as cli_main
from kiosk.evaluation.protocol import (SPLIT_DATE, VALIDATION_CUTOFFS, VALIDATION_SPLIT_DATE, Protocol, make_split,
                                      validation_folds, validation_training_splits)
from kiosk.evaluation.retail_data import load_retail

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "retail_small.csv"


@pytest.mark.parametrize("protocol", list(Protocol))
def test_validation_training_targets_lie_before_the_validation_target(protocol: Protocol) -> None:
    log = load_retail(FIXTURE).log
    validation = make_split(log, protocol, validation=True)
    training = validation_training_splits(log, protocol)
    assert training and all(len(s.customers) for s in training)
    b_customer, b_day, _ = log.basket_table()
    for split in training:
        if protocol is Protocol.GLOBAL_SPLIT:  # every target basket is dated before the validation split
            target_days = np.repeat(split.as_of, np.diff(split.target_start))
            assert split.as_of.max() < VALIDATION_SPLIT_DATE.toordinal()
            assert split.history.day.max() < split.as_of.min()
        else:  # per member, the training target is an earlier order than the validation target
            for customer, as_of in zip(split.customers.tolist(), split.as_of.tolist()):
                row = np.flatnonzero(validation.customers == customer)
                assert not len(row) or as_of <= validation.as_of[row[0]]
            assert len(split.history) < len(validation.history)
        assert len(target_days if protocol is Protocol.GLOBAL_SPLIT else split.target_product) > 0


def test_offers_tune_prints_baselines_and_every_variant(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["offers-tune", "--data", str(FIXTURE), "--category-cap", "2,0", "--discovery-share", "0,1",
                     "--no-trees"]) == 0
    out = capsys.readouterr().out.rsplit("\n## ", 1)[1]  # the table of means over the cut-offs
    assert "mean over 4 validation cut-offs" in out and "| P-TopFreq |" in out and "| popularity |" in out
    rows = [line for line in out.splitlines() if line.startswith("| logistic regression")]
    assert [r.split(" | ")[0] for r in rows] == [
        f"| logistic regression (the engine), cap {cap}, discovery {share}" for cap in (2, 0) for share in ("0%", "100%")]
    rep_ratio = [float(r.split(" | ")[9]) for r in rows[:2]]
    assert rep_ratio[1] < rep_ratio[0]  # all-discovery lists hold fewer repeats (the tiny file fills with popular)


def test_offers_tune_compares_lightgbm_when_installed(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("lightgbm")
    assert cli_main(["offers-tune", "--data", str(FIXTURE), "--category-cap", "2", "--discovery-share", "0",
                     "--rounds", "20"]) == 0
    out = capsys.readouterr().out
    assert "| LightGBM binary (20 rounds), cap 2, discovery 0% |" in out
    assert "| LightGBM lambdarank (20 rounds), cap 2, discovery 0% |" in out


def test_every_cutoff_fold_learns_only_from_targets_before_it() -> None:
    log = load_retail(FIXTURE).log
    folds = validation_folds(log, Protocol.GLOBAL_SPLIT)
    assert [f.cutoff for f in folds] == [c.isoformat() for c in VALIDATION_CUTOFFS]
    b_customer, b_day, _ = log.basket_table()
    for fold, cutoff in zip(folds, VALIDATION_CUTOFFS):
        c = cutoff.toordinal()
        validation = fold.validation
        assert len(validation.customers) and fold.training
        assert validation.history.day.max() < c and (validation.as_of == c).all()
        for i, customer in enumerate(validation.customers.tolist()):  # target: the first basket in [c, test split)
            later = np.sort(b_day[(b_customer == customer) & (b_day >= c)])
            assert later[0] < SPLIT_DATE.toordinal()
        for split in fold.training:  # learned on snapshots whose input and target both lie before the cut-off
            assert split.as_of.max() < c and split.history.day.max() < split.as_of.min()
            target_baskets = np.flatnonzero(np.isin(b_customer, split.customers) & (b_day >= split.as_of.min()))
            first_days = [b_day[target_baskets][b_customer[target_baskets] == cu].min() for cu in split.customers]
            assert max(first_days) < c


def test_offers_tune_compares_by_the_mean_over_cutoffs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["offers-tune", "--data", str(FIXTURE), "--category-cap", "2", "--discovery-share", "0",
                     "--no-trees", "--cutoffs", "2000-12-15,2001-01-15"]) == 0
    out = capsys.readouterr().out
    per_cutoff = next(line for line in out.splitlines() if line.startswith("| P-TopFreq |"))
    cells = [float(v) for v in per_cutoff.strip("| ").split(" | ")[1:]]
    assert cells[2] == pytest.approx((cells[0] + cells[1]) / 2, abs=1e-4)  # recall@10 at each, then the mean
    means = out.rsplit("\n## ", 1)[1]
    assert "mean over 2 validation cut-offs" in means
    mean_row = next(line for line in means.splitlines() if line.startswith("| P-TopFreq |"))
    assert float(mean_row.split(" | ")[5].split(" ")[0]) == pytest.approx(cells[2], abs=1e-4)


@pytest.mark.parametrize("argv, expected", [
    (["--data", "{fixture}", "--cutoffs", "2001-13-01"], "--cutoffs: '2001-13-01' is not a date YYYY-MM-DD"),
    (["--data", "{fixture}", "--cutoffs", "2001-01-01,2001-02-15"],
     "--cutoffs: validation cut-off 2001-02-15 is not before the test split 2001-02-01"),
    (["--data", "{fixture}", "--cutoffs", "2000-11-03"], "no member qualifies for the global-split validation split "
                                                         "at 2000-11-03"),
    (["--data", "{missing}"], "no such file"),
    (["--data", "{january}"], "no member qualifies for the global-split validation split"),
    (["--data", "{fixture}", "--category-cap", "2,x"], "--category-cap: 'x' is not a whole number"),
    (["--data", "{fixture}", "--discovery-share", "-1"], "--discovery-share: must be 0..1 (got -1)"),
])
def test_offers_tune_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv,
                                                  expected) -> None:
    january = tmp_path / "january.csv"
    with open(january, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "basket_id", "date", "product_id", "category"])
        writer.writerows([["1", "1", "2001-01-10", "A", "x"], ["1", "2", "2001-01-12", "B", "x"]])
    names = {"missing": str(tmp_path / "missing.csv"), "january": str(january), "fixture": str(FIXTURE)}
    try:
        code = cli_main(["offers-tune", *[a.format(**names) for a in argv]])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert expected in err.strip().splitlines()[-1] and "Traceback" not in err  # argparse: usage, then the line
