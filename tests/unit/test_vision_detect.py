"""Face detection on real photographs with the shipped BlazeFace models, and clear errors for bad model files."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers.vision_frames import PERSON_FACE_HINT, compose, fer_faces, fer_patch, person
from vision.faces import DetectorLoadError, FaceDetector
from vision.settings import DETECTOR_MODELS
from vision.types import Box


@pytest.fixture(scope="module")
def detector():
    det = FaceDetector(DETECTOR_MODELS["short"], min_score=0.5, min_face_px=32, max_faces=10)
    yield det
    det.close()


def rgb(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def test_astronaut_face_found_where_it_is(detector):
    x, y = 210, 110
    found = detector.detect(rgb(compose([(person(), x, y)])))
    assert len(found) == 1
    hx, hy, hw, hh = PERSON_FACE_HINT
    assert found[0].box.iou(Box(x + hx, y + hy, hw, hh)) > 0.6
    assert found[0].score > 0.8


def test_empty_wall_has_no_face(detector):
    assert detector.detect(rgb(compose([]))) == []


def test_several_fer_faces_in_one_frame(detector):
    faces, _, _ = fer_faces()
    frame = compose([(fer_patch(faces[i], 200), 20 + (i % 3) * 210, 20 + (i // 3) * 240) for i in range(6)])
    found = detector.detect(rgb(frame))
    assert 4 <= len(found) <= 6  # FER crops are tight; BlazeFace finds most, never invents extra ones
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)


def test_min_face_px_drops_small_faces():
    small = cv2.resize(person(), None, fx=0.9, fy=0.9)
    frame = rgb(compose([(small, 200, 100)]))
    loose = FaceDetector(DETECTOR_MODELS["short"], 0.5, min_face_px=32, max_faces=10)
    strict = FaceDetector(DETECTOR_MODELS["short"], 0.5, min_face_px=120, max_faces=10)
    try:
        assert len(loose.detect(frame)) == 1
        assert strict.detect(frame) == []
    finally:
        loose.close()
        strict.close()


def test_full_range_model_loads_and_finds_the_face():
    det = FaceDetector(DETECTOR_MODELS["full"], 0.5, 32, 10)
    try:
        assert len(det.detect(rgb(compose([(person(), 210, 110)])))) == 1
    finally:
        det.close()


def test_missing_model_is_one_line_error(tmp_path):
    with pytest.raises(DetectorLoadError) as err:
        FaceDetector(tmp_path / "nope.tflite", 0.5, 48, 10)
    assert "nope.tflite" in str(err.value) and "no such file" in str(err.value)
    assert "\n" not in str(err.value)


def test_corrupt_model_is_one_line_error(tmp_path):
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(Path(DETECTOR_MODELS["short"]).read_bytes()[:5000])
    with pytest.raises(DetectorLoadError) as err:
        FaceDetector(bad, 0.5, 48, 10)
    assert "broken.tflite" in str(err.value) and "\n" not in str(err.value)
