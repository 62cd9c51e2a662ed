"""Export a training checkpoint to ``models/expression.onnx`` with its metadata contract, and verify the result.

Run: ``.venv/bin/python -m models.export --checkpoint runs/expression/best.pt`` (writes models/expression.onnx).
The graph takes float32 ``[N, 1, S, S]`` already normalised as (pixel/255 - mean)/std and returns ``[N, C]``
logits; the normalisation is deliberately NOT folded into the graph so the contract stays explicit.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

import numpy as np

from models.contract import ModelContract, read_contract
from models.errors import ModelError

logger = logging.getLogger(__name__)

DEFAULT_OUT = Path(__file__).resolve().parent / "expression.onnx"
OPSET = 17


class ExportError(ModelError):
    """The exported graph does not reproduce the PyTorch model or cannot be written."""


def export(checkpoint: Path, out: Path, version: str | None = None, atol: float = 1e-3) -> ModelContract:
    """Write ``out`` from ``checkpoint`` (fp32 graph, dynamic batch, opset 17), then check ORT agrees with torch."""
    import onnx
    import onnxruntime as ort
    import torch

    from models.train import build_model, load_checkpoint

    state = load_checkpoint(checkpoint)
    model = build_model(state).eval()
    size = 48
    classes = list(state["classes"])
    version = version or f"fer-vgg6-{checkpoint.stem}-e{state['epoch']}"
    tmp = out.with_suffix(".tmp.onnx")
    dummy = torch.zeros(1, 1, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(model, dummy, str(tmp), input_names=["input"], output_names=["scores"],
                          dynamic_axes={"input": {0: "N"}, "scores": {0: "N"}}, opset_version=OPSET, dynamo=False)
    proto = onnx.load(str(tmp))
    props = {
        "classes": json.dumps(classes), "input_size": str(size), "color": "gray",
        "mean": f"{state['mean']:.6f}", "std": f"{state['std']:.6f}", "version": version,
        "trained_on": state.get("trained_on", "FER2013 Training"), "val_accuracy": f"{state['val_acc']:.4f}",
        "val_split": state.get("val_on", "fer2013_public_test.npz"), "output": "scores",
    }
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "moodkiosk models.export"
    proto.doc_string = "FER2013 facial-expression classifier; contract in metadata_props (see models/expression.md)"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (8, 1, size, size)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    diff = float(np.abs(got - expected).max())
    if diff > atol:
        tmp.unlink()
        raise ExportError(f"export of {checkpoint}: ONNX and PyTorch scores differ by {diff:.2e} (> {atol})")
    tmp.replace(out)
    contract = read_contract(out)
    logger.info("wrote %s (%.0f kB, version %s, val acc %s); ORT vs torch max |diff| %.1e",
                out, out.stat().st_size / 1024, version, props["val_accuracy"], diff)
    return contract


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.export", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, default=Path("runs/expression/best.pt"))
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--version", default=None, help="model version written into the metadata (default from the checkpoint)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        export(args.checkpoint, args.out, args.version)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
