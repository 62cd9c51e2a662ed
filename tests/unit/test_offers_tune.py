"""offers-tune: ranker variants compared on the validation split, learned only on targets before it."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from kiosk.cli import main as cli_main
from kiosk.evaluation.protocol import (VALIDATION_SPLIT_DATE, Protocol, make_split, validation_training_splits)
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
    out = capsys.readouterr().out
    assert "validation split of global-split" in out and "| P-TopFreq |" in out and "| popularity |" in out
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


@pytest.mark.parametrize("argv, expected", [
    (["--data", "{missing}"], "no such file"),
    (["--data", "{january}"], "no member qualifies for the global-split validation split"),
    (["--data", "{fixture}", "--category-cap", "2,x"], "--category-cap: 'x' is not an integer"),
    (["--data", "{fixture}", "--discovery-share", "-1"], "--discovery-share: -1 is outside 0..1"),
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
