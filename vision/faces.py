"""Face detection with MediaPipe Tasks `FaceDetector` (BlazeFace), returning pixel boxes and scores."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vision.errors import VisionError
from vision.types import Box


class DetectorLoadError(VisionError):
    """The face detector model is missing or MediaPipe refuses it."""


@dataclass(frozen=True, slots=True)
class Detection:
    """A detected face before tracking: pixel box and detector score."""

    box: Box
    score: float


class FaceDetector:
    """BlazeFace through MediaPipe Tasks in IMAGE mode (each frame on its own; tracking is ours)."""

    def __init__(self, model_path: Path, min_score: float, min_face_px: int, max_faces: int) -> None:
        if not model_path.is_file():
            raise DetectorLoadError(f"face detector model {model_path}: no such file")
        # Imported here: mediapipe is large, and modules that only read settings should not pay for it.
        from vision.no_telemetry import quiet_mediapipe_env

        quiet_mediapipe_env()
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions
        from mediapipe.tasks.python import vision as mp_vision

        self._mp = mp
        options = mp_vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=model_path.read_bytes()),
            running_mode=mp_vision.RunningMode.IMAGE,
            min_detection_confidence=min_score,
            min_suppression_threshold=0.3,
        )
        try:
            self._detector = mp_vision.FaceDetector.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DetectorLoadError(f"face detector model {model_path}: MediaPipe refused it ({first})") from exc
        self._min_face_px = min_face_px
        self._max_faces = max_faces
        self.model_path = model_path

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in an RGB uint8 image ``(H, W, 3)``, best score first, clipped to the frame, small ones dropped."""
        height, width = rgb.shape[:2]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._detector.detect(image)
        found: list[Detection] = []
        for det in result.detections:
            bb = det.bounding_box
            x0, y0 = max(0, bb.origin_x), max(0, bb.origin_y)
            x1, y1 = min(width, bb.origin_x + bb.width), min(height, bb.origin_y + bb.height)
            if x1 - x0 < self._min_face_px or y1 - y0 < self._min_face_px:
                continue
            score = float(det.categories[0].score) if det.categories else 0.0
            found.append(Detection(Box(int(x0), int(y0), int(x1 - x0), int(y1 - y0)), score))
        found.sort(key=lambda d: d.score, reverse=True)
        return found[: self._max_faces]

    def close(self) -> None:
        """Release the MediaPipe graph (explicitly: its finaliser fails at interpreter shutdown)."""
        detector, self._detector = getattr(self, "_detector", None), None
        if detector is not None:
            detector.close()
