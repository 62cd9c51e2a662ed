"""The metadata contract reader: accepts the shipped model, rejects broken files with one line naming the file."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vision.model_contract import ModelContractError, read_contract
from models.data import FER_CLASSES
from vision.errors import VisionError

onnx = pytest.importorskip("onnx", reason="onnx (the [train] extra) builds the test models")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "expression.onnx"
GOOD_META = {
    "classes": json.dumps(list(FER_CLASSES)), "input_size": "48", "color": "gray", "mean": "0.5", "std": "0.25",
    "version": "t1", "trained_on": "test", "val_accuracy": "0.5",
}


def tiny_model(path: Path, meta: dict[str, str] | None, side: int = 48, classes: int = 7) -> Path:
    """A real ONNX graph: GlobalAveragePool -> Flatten -> MatMul to ``classes`` scores, with ``meta`` as metadata_props."""
    w = numpy_helper.from_array(np.ones((1, classes), np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]), helper.make_node("Flatten", ["pooled"], ["flat"]),
         helper.make_node("MatMul", ["flat", "W"], ["scores"])],
        "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, side, side])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", classes])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in (meta or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def _rejects(path: Path, match: str) -> None:
    with pytest.raises(ModelContractError) as info:
        read_contract(path)
    message = str(info.value)
    assert isinstance(info.value, VisionError)  # printed as one line by the CLI, like every vision error
    assert str(path) in message and "\n" not in message and match in message, message


def test_shipped_model_carries_the_contract():
    contract = read_contract(SHIPPED)
    assert contract.classes == FER_CLASSES
    assert contract.input_size == 48 and contract.color == "gray" and contract.output == "scores"
    assert 0 < contract.mean < 1 and 0 < contract.std < 1 and 0 < contract.val_accuracy <= 1
    assert contract.version and "fer2013" in contract.trained_on.lower()
    assert SHIPPED.stat().st_size <= 5 * 1024 * 1024


def test_a_well_formed_model_reads_back_exactly(tmp_path):
    contract = read_contract(tiny_model(tmp_path / "ok.onnx", GOOD_META))
    assert (contract.mean, contract.std, contract.version, contract.input_name) == (0.5, 0.25, "t1", "input")
    assert not contract.outputs_probabilities


def test_missing_and_corrupt_files(tmp_path):
    _rejects(tmp_path / "absent.onnx", "no such file")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(SHIPPED.read_bytes()[:5000])
    _rejects(corrupt, "not a loadable ONNX model")


def test_model_without_metadata_or_with_missing_keys(tmp_path):
    _rejects(tiny_model(tmp_path / "bare.onnx", None), "no metadata contract")
    partial = {k: v for k, v in GOOD_META.items() if k not in ("std", "version")}
    _rejects(tiny_model(tmp_path / "partial.onnx", partial), "lacks std, version")


@pytest.mark.parametrize(("key", "value", "match"), [
    ("classes", "angry,happy", "not JSON"),
    ("classes", '["happy", "happy"]', "distinct names"),
    ("input_size", "forty", "must be an integer"),
    ("color", "rgb", "'color' must be one of"),
    ("std", "0", "'std' must be > 0"),
    ("mean", "nan", "must be finite"),
    ("val_accuracy", "72", "fraction 0..1"),
])
def test_bad_values_name_the_key(tmp_path, key, value, match):
    _rejects(tiny_model(tmp_path / "bad.onnx", {**GOOD_META, key: value}), match)


def test_graph_must_match_the_metadata(tmp_path):
    _rejects(tiny_model(tmp_path / "side.onnx", GOOD_META, side=40), "input must be [N, 1, 48, 48]")
    _rejects(tiny_model(tmp_path / "five.onnx", GOOD_META, classes=5), "output must be [N, 7]")


def test_model_eval_prints_one_line_for_a_broken_model(tmp_path, capsys):
    from kiosk.cli import main

    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage")
    assert main(["model-eval", "--model", str(corrupt)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(corrupt) in err and "Traceback" not in err
