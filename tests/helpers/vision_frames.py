"""Real-photo test frames for the vision tests: the NASA astronaut portrait and FER2013 faces placed into frames."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
FER_FIXTURE = REPO / "tests" / "fixtures" / "fer_faces.npz"
W, H = 640, 480
# Where the astronaut's face sits inside `person()` (x, y, w, h), measured once with the detector.
PERSON_FACE_HINT = (39, 70, 96, 96)


def person() -> np.ndarray:
    """Head and shoulders of the public-domain NASA astronaut portrait (`skimage.data.astronaut`), BGR 260x220."""
    from skimage import data

    return cv2.cvtColor(data.astronaut()[10:270, 140:360], cv2.COLOR_RGB2BGR)


def wall() -> np.ndarray:
    frame = np.full((H, W, 3), 175, np.uint8)
    frame[:, :, 0] = np.linspace(165, 135, H, dtype=np.uint8)[:, None]
    return frame


def compose(placements: Iterable[tuple[np.ndarray, int, int]]) -> np.ndarray:
    """A 640x480 BGR frame with each patch pasted at its (x, y) (clipped at the borders)."""
    frame = wall()
    for patch, x, y in placements:
        h, w = patch.shape[:2]
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
        if x1 > x0 and y1 > y0:
            frame[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]
    return frame


def fer_patch(face48: np.ndarray, side: int) -> np.ndarray:
    """A 48x48 gray FER face upscaled to `side` px, as BGR."""
    big = cv2.resize(face48, (side, side), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)


def fer_faces() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """FER2013 faces (x: N,48,48 uint8; y: N labels; classes): the committed fixture, else the shared split."""
    path = FER_FIXTURE
    if not path.is_file():
        base = Path(os.environ.get("MOODKIOSK_DATA_DIR", REPO.parent / "shared" / "data"))
        path = base / "fer2013_public_test.npz"
    with np.load(path) as data:
        x, y = data["x"][:200], data["y"][:200]
        classes = tuple(str(c) for c in data["classes"])
    return x, y, classes


def write_video(path: Path, frames: Sequence[np.ndarray], fps: float = 15.0) -> Path:
    """Write BGR frames as an MPEG-4 (mp4v) file with OpenCV; returns `path`."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (W, H))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def held_person_video(path: Path, seconds: float = 3.0, fps: float = 15.0) -> Path:
    """One person (the astronaut) standing in front of the kiosk for `seconds`, swaying a little."""
    patch = person()
    frames = [compose([(patch, 210 + int(15 * np.sin(i / 6.0)), 110 + int(4 * np.cos(i / 5.0)))])
              for i in range(int(seconds * fps))]
    return write_video(path, frames, fps)
