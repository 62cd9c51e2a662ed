"""Build `demo_astronaut.mp4`, the looping demo camera clip, from the public-domain NASA astronaut portrait.

Why: `moodkiosk demo` must run without a camera, and its clip must show real faces we may ship. The portrait
of Eileen Collins (NASA, public domain) comes with scikit-image (`skimage.data.astronaut()`); this script
cuts her head and shoulders out and moves one, three, then two copies (some mirrored, scaled) over a plain
wall for 12 s at 15 fps, so the demo sees people come and go. Dev-time only (needs scikit-image).

    .venv/bin/python vision/assets/make_demo_clip.py
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from skimage import data

logger = logging.getLogger(__name__)

OUT = Path(__file__).resolve().parent / "demo_astronaut.mp4"
W, H, FPS, SECONDS = 640, 480, 15, 12


def person() -> np.ndarray:
    """Head and shoulders of the astronaut, BGR ``(260, 220, 3)``."""
    rgb = data.astronaut()
    return cv2.cvtColor(rgb[10:270, 140:360], cv2.COLOR_RGB2BGR)


def wall() -> np.ndarray:
    """A soft vertical gradient, like a shop wall under ceiling lights."""
    ramp = np.linspace(200, 150, H, dtype=np.float32)[:, None, None]
    tint = np.array([0.95, 1.0, 1.02], dtype=np.float32)[None, None, :]
    return np.broadcast_to(ramp * tint, (H, W, 3)).astype(np.uint8)


def paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    h, w = patch.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]


def scene(t: float, base: np.ndarray) -> list[tuple[np.ndarray, int, int]]:
    """Who stands where at time `t` (seconds)."""
    small = cv2.resize(base, None, fx=0.9, fy=0.9, interpolation=cv2.INTER_AREA)
    mirrored = cv2.flip(small, 1)
    drift = int(20 * np.sin(2 * np.pi * t / 4.0))
    if t < 4.0:
        return [(base, 210 + drift, 110)]
    if t < 8.0:
        return [(mirrored, 5 + drift // 2, 170), (base, 215 + drift // 2, 100), (small, 440 - drift // 2, 160)]
    leave = int(max(0.0, t - 10.0) * 250)  # the last one walks out to the right
    return [(base, 130 + drift, 110), (mirrored, 400 + leave, 150)]


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    base, background = person(), wall()
    writer = cv2.VideoWriter(str(OUT), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    if not writer.isOpened():
        logger.error("cannot write %s with the mp4v codec", OUT)
        return 2
    for i in range(FPS * SECONDS):
        frame = background.copy()
        for patch, x, y in scene(i / FPS, base):
            paste(frame, patch, x, y)
        writer.write(frame)
    writer.release()
    logger.info("wrote %s (%d bytes)", OUT, OUT.stat().st_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
