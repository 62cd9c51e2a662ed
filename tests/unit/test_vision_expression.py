"""Expression inference through the model's metadata contract, one batch per frame; and the shipped model on a smile."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from tests.helpers.vision_frames import compose, person  # noqa: E402
from vision.expression import ExpressionClassifier, ExpressionModelError  # noqa: E402
from vision.pipeline import FrameProcessor  # noqa: E402
from helpers.vision_settings import plain_settings  # noqa: E402
from vision.settings import DEFAULT_EXPRESSION_MODEL  # noqa: E402

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def linear_model(path: Path, size: int = 40, mean: float = 0.5, std: float = 0.25, metadata: dict | None = None) -> np.ndarray:
    """A real (tiny) ONNX classifier: flatten -> dense -> 7 scores, with the metadata contract of issue 2."""
    rng = np.random.default_rng(0)
    weights = rng.normal(0, 0.05, (size * size, len(CLASSES))).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["input"], ["flat"]), helper.make_node("MatMul", ["flat", "W"], ["scores"])],
        "linear",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, size, size])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", len(CLASSES)])],
        [numpy_helper.from_array(weights, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    props = {
        "classes": json.dumps(CLASSES), "input_size": str(size), "color": "gray", "mean": str(mean), "std": str(std),
        "version": "test-1", "trained_on": "nothing (test)", "val_accuracy": "0.0",
    }
    props.update(metadata or {})
    for key, value in props.items():
        if value is not None:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return weights


def test_contract_drives_size_classes_and_normalisation(tmp_path):
    weights = linear_model(tmp_path / "m.onnx", size=40, mean=0.5, std=0.25)
    clf = ExpressionClassifier(tmp_path / "m.onnx", threads=1)
    assert clf.classes == tuple(CLASSES) and clf.input_size == 40 and clf.version == "test-1"
    crops = np.random.default_rng(1).integers(0, 256, (3, 40, 40), dtype=np.uint8)
    probs = clf.classify(crops)
    x = (crops.reshape(3, -1).astype(np.float32) / 255.0 - 0.5) / 0.25
    scores = x @ weights
    expected = np.exp(scores - scores.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    assert probs.shape == (3, 7) and np.allclose(probs.sum(1), 1.0, atol=1e-5)
    assert np.allclose(probs, expected, atol=1e-4)
    # One batch gives the same answer as one face at a time.
    assert np.allclose(np.vstack([clf.classify(crops[i : i + 1]) for i in range(3)]), probs, atol=1e-5)
    assert clf.classify(np.zeros((0, 40, 40), np.uint8)).shape == (0, 7)


def test_model_without_contract_is_refused_with_one_line(tmp_path):
    linear_model(tmp_path / "bare.onnx", metadata={"classes": None, "mean": None})
    with pytest.raises(ExpressionModelError) as err:
        ExpressionClassifier(tmp_path / "bare.onnx")
    assert "bare.onnx" in str(err.value) and "\n" not in str(err.value)


def test_missing_model_file(tmp_path):
    with pytest.raises(ExpressionModelError, match="no such file"):
        ExpressionClassifier(tmp_path / "none.onnx")


@pytest.mark.skipif(not DEFAULT_EXPRESSION_MODEL.is_file(), reason="models/expression.onnx not shipped yet")
def test_shipped_model_reads_the_astronauts_smile():
    processor = FrameProcessor(plain_settings(expression_model=DEFAULT_EXPRESSION_MODEL, track_min_hits=1))
    frame = compose([(person(), 210, 110)])
    try:
        faces = [processor.process(frame, i / 15).result.faces for i in range(10)][-1]
    finally:
        processor.close()
    (face,) = faces
    assert max(face.probs, key=face.probs.get) == "happy"
    assert face.label == "happy"
