"""Expression classification with onnxruntime, driven by the model's own metadata contract."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from vision.errors import VisionError
from vision.model_contract import ModelContractError, read_contract

logger = logging.getLogger(__name__)


class ExpressionModelError(VisionError):
    """The expression model is missing, corrupt or fails its metadata contract."""


def kiosk_session(model_path: Path, threads: int):
    """An onnxruntime CPU session set up as the kiosk runs it (so `models.evaluate` times the same thing)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # onnxruntime's pool threads spin-wait for the next run by default: between two frames that burned
    # ~28 % of a core on the kiosk for nothing (measured with `moodkiosk bench-kiosk-cpu`).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


class ExpressionClassifier:
    """Runs all face crops of a frame through the .onnx model in one batch; returns class probabilities.

    The classes, input size and normalisation come from the model's metadata (`vision.model_contract`), so a
    retrained model with other classes or another input size drops in without code changes.
    """

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        if not model_path.is_file():
            raise ExpressionModelError(f"expression model {model_path}: no such file")
        # Imported here so that reading settings or tracking never loads onnxruntime.
        from vision.no_telemetry import quiet_onnxruntime, quiet_onnxruntime_env

        quiet_onnxruntime_env()
        import onnxruntime as ort

        quiet_onnxruntime(ort)

        try:
            contract = read_contract(model_path)
        except ModelContractError as exc:
            message = str(exc)
            prefix = "" if str(model_path) in message else f"expression model {model_path}: "
            raise ExpressionModelError(f"{prefix}{message}") from exc
        if contract.color != "gray":
            raise ExpressionModelError(f"expression model {model_path}: color {contract.color!r} not supported (need 'gray')")
        try:
            self._session = kiosk_session(model_path, threads)
        except Exception as exc:  # onnxruntime raises its own untyped Fail/InvalidGraph errors
            raise ExpressionModelError(f"expression model {model_path}: onnxruntime cannot load it ({exc})") from exc
        self._input = self._session.get_inputs()[0].name
        self.classes: tuple[str, ...] = tuple(contract.classes)
        self.input_size = int(contract.input_size)
        self.version = str(contract.version)
        self.model_path = model_path
        # (p/255 - mean)/std folded into one multiply-add per pixel.
        self._scale = np.float32(1.0 / (255.0 * float(contract.std)))
        self._shift = np.float32(-float(contract.mean) / float(contract.std))
        self._probabilities = contract.outputs_probabilities
        logger.info("expression model %s v%s: %d classes, %d px", model_path.name, self.version, len(self.classes), self.input_size)

    def classify(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, C) float32`` for gray crops ``(N, S, S) uint8`` (S = the contract's input size)."""
        if crops.shape[0] == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        batch = crops.astype(np.float32)[:, None, :, :] * self._scale + self._shift
        scores = np.asarray(self._session.run(None, {self._input: batch})[0], dtype=np.float32)
        if self._probabilities:
            return scores
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)
