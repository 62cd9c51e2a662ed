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
