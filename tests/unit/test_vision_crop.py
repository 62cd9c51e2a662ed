"""The runtime face crop rule: square geometry, frame borders, and that it gives back FER2013's framing."""
from __future__ import annotations

import cv2
import numpy as np

from tests.helpers.vision_frames import fer_faces
from vision.crop import CROP_SCALE, crop_faces, crop_square
from vision.faces import FaceDetector
from vision.settings import DETECTOR_MODELS
from vision.types import Box


def test_crop_square_is_scaled_and_shifted_up():
    x, y, side = crop_square(Box(100, 100, 100, 100))
    assert side == round(CROP_SCALE * 100)
    assert x + side / 2 == 150  # centred horizontally
    assert y + side / 2 < 150  # moved up towards the forehead, like FER crops


def test_crop_at_frame_border_replicates_edges_and_keeps_shape():
    gray = np.tile(np.arange(100, dtype=np.uint8), (80, 1))
    crops = crop_faces(gray, [Box(-20, -20, 60, 60), Box(70, 50, 40, 40)], 48)
    assert crops.shape == (2, 48, 48) and crops.dtype == np.uint8
    assert crops[0][:, 0].min() == 0  # the left edge column repeated, not black padding from nowhere
    assert crops[1][:, -1].max() == 99


def test_rule_recovers_the_fer_crop_from_a_detector_box():
    faces, _, _ = fer_faces()
    rng = np.random.default_rng(3)
    detector = FaceDetector(DETECTOR_MODELS["short"], 0.5, 16, 5)
    scores, raw_scores = [], []

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a.astype(np.float32).ravel(), b.astype(np.float32).ravel())[0, 1])

    try:
        for face in faces[:60]:
            side = int(rng.integers(140, 240))
            x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
            big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
            gray = cv2.copyMakeBorder(big, y, 480 - y - side, x, 640 - x - side, cv2.BORDER_REPLICATE)
            found = detector.detect(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB))
            if not found:
                continue
            box = found[0].box
            scores.append(corr(crop_faces(gray, [box], 48)[0], face))
            raw = cv2.resize(gray[box.y : box.y + box.h, box.x : box.x + box.w], (48, 48), interpolation=cv2.INTER_AREA)
            raw_scores.append(corr(raw, face))
    finally:
        detector.close()
    assert len(scores) >= 25
    # The rule's crop lines up with the original 48x48 face far better than the bare detector box does
    # (measured: median pixel correlation about 0.67 against 0.36; a 2-px shift at 48 px already costs a lot).
    assert np.median(scores) > 0.6, np.median(scores)
    assert np.median(scores) > np.median(raw_scores) + 0.2
