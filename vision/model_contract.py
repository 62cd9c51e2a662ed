"""Read and validate the metadata contract of an expression .onnx model, so callers never hard-code classes or sizes.

It lives in vision (the runtime that reads models) so the pipeline never imports the training package; the
training tools (`models/export.py`, `models/evaluate.py`) import it from here.

The contract lives in the model's ONNX ``metadata_props`` (written by ``models/export.py``):
``classes`` (JSON list, output order), ``input_size`` (square side, px), ``color`` (``gray``), ``mean`` and ``std``
(input = (pixel/255 - mean)/std), ``version``, ``trained_on``, ``val_accuracy``; optional ``output``
(``scores`` (default, logits) or ``probabilities``) and ``precision`` (``fp32`` (default) or ``int8``: weights and
activations quantised inside the graph; the input and output stay float32). Input is float32 NCHW ``[N, 1, S, S]``, output ``[N, C]``.
Only onnxruntime is needed (a kiosk runtime dependency), not the ``onnx`` package.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from vision.errors import VisionError

logger = logging.getLogger(__name__)

REQUIRED_KEYS: tuple[str, ...] = ("classes", "input_size", "color", "mean", "std", "version", "trained_on", "val_accuracy")
COLORS: tuple[str, ...] = ("gray",)
OUTPUTS: tuple[str, ...] = ("scores", "probabilities")
PRECISIONS: tuple[str, ...] = ("fp32", "int8")


class ModelContractError(VisionError):
    """The model file is missing, not loadable, or its metadata contract is absent or inconsistent."""


@dataclass(frozen=True)
class ModelContract:
    """What a program needs to feed and read an expression model, taken from the model file itself."""

    path: Path
    classes: tuple[str, ...]
    input_size: int
    color: str
    mean: float
    std: float
    version: str
    trained_on: str
    val_accuracy: float
    output: str = "scores"
    precision: str = "fp32"
    input_name: str = "input"

    @property
    def outputs_probabilities(self) -> bool:
        """True when the model already applies softmax (``output=probabilities``); else it returns logits."""
        return self.output == "probabilities"


def _float(path: Path, meta: dict[str, str], key: str) -> float:
    try:
        value = float(meta[key])
    except ValueError:
        raise ModelContractError(f"model {path}: metadata {key!r} must be a number, got {meta[key]!r}") from None
    if not math.isfinite(value):
        raise ModelContractError(f"model {path}: metadata {key!r} must be finite, got {meta[key]!r}")
    return value


def parse_metadata(path: Path, meta: dict[str, str]) -> ModelContract:
    """Validate a ``metadata_props`` mapping (without checking the graph); one-line `ModelContractError` on any problem."""
    missing = [key for key in REQUIRED_KEYS if key not in meta]
    if len(missing) == len(REQUIRED_KEYS):
        raise ModelContractError(f"model {path}: no metadata contract (needs metadata_props {', '.join(REQUIRED_KEYS)})")
    if missing:
        raise ModelContractError(f"model {path}: metadata contract lacks {', '.join(missing)}")
    try:
        classes = json.loads(meta["classes"])
    except json.JSONDecodeError:
        raise ModelContractError(f"model {path}: metadata 'classes' is not JSON: {meta['classes'][:60]!r}") from None
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes):
        raise ModelContractError(f"model {path}: metadata 'classes' must be a JSON list of >= 2 distinct names, got {meta['classes'][:60]!r}")
    try:
        input_size = int(meta["input_size"])
    except ValueError:
        raise ModelContractError(f"model {path}: metadata 'input_size' must be an integer, got {meta['input_size']!r}") from None
    if not 8 <= input_size <= 1024:
        raise ModelContractError(f"model {path}: metadata 'input_size' must lie in 8..1024, got {input_size}")
    color = meta["color"].strip().lower()
    if color not in COLORS:
        raise ModelContractError(f"model {path}: metadata 'color' must be one of {list(COLORS)}, got {meta['color']!r}")
    mean, std = _float(path, meta, "mean"), _float(path, meta, "std")
    if std <= 0:
        raise ModelContractError(f"model {path}: metadata 'std' must be > 0, got {meta['std']!r}")
    val_accuracy = _float(path, meta, "val_accuracy")
    if not 0.0 <= val_accuracy <= 1.0:
        raise ModelContractError(f"model {path}: metadata 'val_accuracy' must be a fraction 0..1, got {meta['val_accuracy']!r}")
    output = meta.get("output", "scores")
    if output not in OUTPUTS:
        raise ModelContractError(f"model {path}: metadata 'output' must be one of {list(OUTPUTS)}, got {output!r}")
    precision = meta.get("precision", "fp32")
    if precision not in PRECISIONS:
        raise ModelContractError(f"model {path}: metadata 'precision' must be one of {list(PRECISIONS)}, got {precision!r}")
    if not meta["version"].strip():
        raise ModelContractError(f"model {path}: metadata 'version' is empty")
    return ModelContract(path=path, classes=tuple(classes), input_size=input_size, color=color, mean=mean, std=std,
                         version=meta["version"].strip(), trained_on=meta["trained_on"], val_accuracy=val_accuracy, output=output,
                         precision=precision)


def read_contract(path: Path | str) -> ModelContract:
    """Load ``path`` with onnxruntime, validate its metadata contract and its input/output shapes against it."""
    import onnxruntime as ort  # deferred: importing the contract module stays cheap
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

    path = Path(path)
    if not path.is_file():
        raise ModelContractError(f"model {path}: no such file")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except (ort_state.InvalidProtobuf, ort_state.InvalidGraph, ort_state.Fail, ort_state.NoSuchFile,
            ort_state.InvalidArgument, ort_state.NotImplemented, ort_state.RuntimeException) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelContractError(f"model {path}: not a loadable ONNX model ({reason})") from None
    contract = parse_metadata(path, dict(session.get_modelmeta().custom_metadata_map))
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) < 1:
        raise ModelContractError(f"model {path}: needs exactly one input and an output, has {len(inputs)} inputs, {len(outputs)} outputs")
    shape = list(inputs[0].shape)
    size = contract.input_size
    fixed = [dim if isinstance(dim, int) else None for dim in shape]  # symbolic ('N') or unknown dims -> None
    if len(shape) != 4 or fixed[1] not in (1, None) or any(d not in (size, None) for d in fixed[2:]):
        raise ModelContractError(f"model {path}: input must be [N, 1, {size}, {size}] (gray, metadata input_size {size}), graph has {shape}")
    if inputs[0].type != "tensor(float)":
        raise ModelContractError(f"model {path}: input must be float32, graph has {inputs[0].type}")
    out_shape = list(outputs[0].shape)
    if len(out_shape) != 2 or (isinstance(out_shape[1], int) and out_shape[1] != len(contract.classes)):
        raise ModelContractError(f"model {path}: output must be [N, {len(contract.classes)}] (one score per class), graph has {out_shape}")
    logger.debug("model %s v%s: %d classes, %d px", path, contract.version, len(contract.classes), size)
    return ModelContract(**{**contract.__dict__, "input_name": inputs[0].name})
