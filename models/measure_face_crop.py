"""Measure how a BlazeFace box sits on FER2013-style faces, to derive the runtime crop rule in `vision/crop.py`.

Why: the expression model is trained on FER2013's 48x48 crops, so at run time we must cut the same region
around a face that FER2013's crops show. This script upscales FER faces, places each into a 640x480 frame
(edge-replicated around it, so no hard border looks like a face edge), runs the shipped detector, and compares
the detector box with the known square the 48x48 crop occupies: crop side / box width and the crop centre's
offset from the box centre in box widths/heights. It prints medians, quartiles and the detection rate.

    .venv/bin/python models/measure_face_crop.py [--faces 400] [--data ../shared/data/fer2013_public_test.npz]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vision.faces import FaceDetector  # noqa: E402
from vision.settings import DETECTOR_MODELS  # noqa: E402
from vision.types import Box  # noqa: E402

FRAME_W, FRAME_H = 640, 480


def default_data() -> Path:
    base = Path(os.environ.get("MOODKIOSK_DATA_DIR", ROOT.parent / "shared" / "data"))
    return base / "fer2013_public_test.npz"


def place(face: np.ndarray, side: int, x: int, y: int) -> np.ndarray:
    """An RGB 640x480 frame with `face` (48x48 gray) scaled to `side` at (x, y), edges replicated outwards."""
    big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    frame = cv2.copyMakeBorder(big, y, FRAME_H - y - side, x, FRAME_W - x - side, cv2.BORDER_REPLICATE)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)


def measure(faces: np.ndarray, detector: FaceDetector, seed: int) -> dict[str, np.ndarray]:
    """Per detected face: crop side / box width, centre offsets (box units), box aspect h/w."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[float, float, float, float]] = []
    for face in faces:
        side = int(rng.integers(120, 260))
        x = int(rng.integers(0, FRAME_W - side))
        y = int(rng.integers(0, FRAME_H - side))
        truth = Box(x, y, side, side)
        found = detector.detect(place(face, side, x, y))
        best = max(found, key=lambda d: d.box.iou(truth), default=None)
        if best is None or best.box.iou(truth) < 0.2:
            continue
        b = best.box
        bcx, bcy = b.center
        tcx, tcy = truth.center
        rows.append((side / b.w, (tcx - bcx) / b.w, (tcy - bcy) / b.h, b.h / b.w))
    arr = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return {"scale": arr[:, 0], "offset_x": arr[:, 1], "offset_y": arr[:, 2], "aspect": arr[:, 3]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data(), help="FER2013-format .npz (x: N,48,48 uint8)")
    parser.add_argument("--faces", type=int, default=400, help="how many faces to sample")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        with np.load(args.data) as data:
            x = data["x"]
    except (OSError, KeyError, ValueError) as exc:
        print(f"measure_face_crop: error: {args.data}: cannot read FER faces ({exc})", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    faces = x[rng.choice(len(x), size=min(args.faces, len(x)), replace=False)]
    detector = FaceDetector(DETECTOR_MODELS["short"], min_score=0.5, min_face_px=16, max_faces=5)
    try:
        stats = measure(faces, detector, args.seed)
    finally:
        detector.close()
    n = len(stats["scale"])
    print(f"faces sampled {len(faces)}, detected {n} ({100.0 * n / max(len(faces), 1):.1f} %)")
    for key, values in stats.items():
        q1, med, q3 = np.percentile(values, [25, 50, 75]) if n else (float("nan"),) * 3
        print(f"{key:9s} median {med:+.3f}  quartiles [{q1:+.3f}, {q3:+.3f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
