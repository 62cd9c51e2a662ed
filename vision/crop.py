"""The face crop rule: which square around a BlazeFace box matches the framing of FER2013's 48x48 faces.

Measured by ``models/measure_face_crop.py`` (400 FER2013 PublicTest faces, each upscaled to 120-259 px and
placed at a random spot of a 640x480 frame with replicated edges, short-range BlazeFace, min score 0.5;
244 detected = 61 %, the misses are mostly FER's tight, partly cut-off or profile faces):

=========  ======  ===================
quantity   median  quartiles
=========  ======  ===================
scale      1.283   [1.187, 1.445]        FER crop side / detector box width
offset_x   +0.005  [-0.029, +0.047]      (crop centre x - box centre x) / box width
offset_y   -0.083  [-0.123, -0.044]      (crop centre y - box centre y) / box height
aspect     1.000   [1.000, 1.000]        box height / width (BlazeFace boxes are square)
=========  ======  ===================

So the runtime crop is a square of side 1.28 x the box side, centred on the box centre moved up by 0.08
box heights (FER crops include the forehead and hair line; BlazeFace boxes sit a bit lower on the face).
Pixels outside the frame are filled by replicating the edge, as the measurement frames were.
The expression model is trained on the FER crops as they are; this rule makes runtime crops look like them.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from vision.types import Box

CROP_SCALE = 1.28
CROP_OFFSET_X = 0.0
CROP_OFFSET_Y = -0.08


def crop_square(box: Box) -> tuple[int, int, int]:
    """The crop for a detector box as ``(x, y, side)`` in frame pixels (may reach outside the frame)."""
    side = max(1, int(round(CROP_SCALE * max(box.w, box.h))))
    cx = box.x + box.w / 2.0 + CROP_OFFSET_X * box.w
    cy = box.y + box.h / 2.0 + CROP_OFFSET_Y * box.h
    return int(round(cx - side / 2.0)), int(round(cy - side / 2.0)), side


def crop_faces(gray: np.ndarray, boxes: Sequence[Box], size: int) -> np.ndarray:
    """Crops for `boxes` from a gray frame ``(H, W) uint8`` as ``(N, size, size) uint8``, by the rule above."""
    out = np.empty((len(boxes), size, size), dtype=np.uint8)
    height, width = gray.shape[:2]
    for i, box in enumerate(boxes):
        x, y, side = crop_square(box)
        x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + side), min(height, y + side)
        if x1 <= x0 or y1 <= y0:  # the box lies outside the frame: nothing to see
            out[i] = 0
            continue
        patch = gray[y0:y1, x0:x1]
        if (x0, y0, x1, y1) != (x, y, x + side, y + side):
            patch = cv2.copyMakeBorder(patch, y0 - y, y + side - y1, x0 - x, x + side - x1, cv2.BORDER_REPLICATE)
        interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        out[i] = cv2.resize(patch, (size, size), interpolation=interp)
    return out
