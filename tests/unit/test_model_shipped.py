"""The shipped models/expression.onnx on the committed 98-face PublicTest fixture (14 per class)."""
from __future__ import annotations

from pathlib import Path

from models.evaluate import evaluate, format_report

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "models" / "expression.onnx"
FIXTURE = REPO / "tests" / "fixtures" / "fer_faces.npz"


def test_shipped_model_is_sane_on_the_fixture():
    report = evaluate(SHIPPED, FIXTURE, repeats=5)
    text = format_report(report)
    assert report.faces == 98 and sum(map(sum, report.confusion)) == 98
    # Balanced classes make this harder than PublicTest (disgust and fear weigh 2/7); chance is 14 %.
    assert report.accuracy >= 0.55, text
    assert report.recall["happy"] >= 0.8 and report.recall["surprise"] >= 0.6, text
    assert "confusion matrix" in text and "ms/face at batch 1" in text


def test_model_eval_times_a_baseline_in_the_same_run(capsys, tmp_path):
    from kiosk.cli import main

    assert main(["model-eval", "--data", str(FIXTURE), "--repeats", "5", "--baseline", str(SHIPPED)]) == 0
    paired, line = capsys.readouterr().out.strip().splitlines()[-2:]
    assert "only this model right on 0, only the baseline on 0; McNemar p = 1.000" in paired, paired  # itself
    assert line.startswith(f"speed vs {SHIPPED} (6 alternating rounds") and "batch 8" in line and "x)" in line, line
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    assert main(["model-eval", "--data", str(FIXTURE), "--repeats", "5", "--baseline", str(broken)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(broken) in err


def test_mcnemar_p_values():
    import pytest
    from models.evaluate import mcnemar_p

    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(5, 5) == 1.0 and mcnemar_p(3, 4) == 1.0
    assert mcnemar_p(10, 0) == pytest.approx(0.004427, abs=1e-5)  # chi2 = 8.1
    assert mcnemar_p(196, 177) == pytest.approx(0.3513, abs=1e-3)
    assert mcnemar_p(196, 177) == mcnemar_p(177, 196)
