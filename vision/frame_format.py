"""One camera frame of any layout a capture backend hands out, decoded into the pipeline's BGR uint8 (H, W, 3).

Cameras and backends do not always deliver BGR bytes: a gray or IR camera gives (H, W) or (H, W, 1), some give
16-bit pixels, a V4L2 backend may give BGRA, and a broken MJPEG frame comes out empty. Before this, such a
frame raised from OpenCV or MediaPipe inside the worker and stopped mood reading until the kiosk restarted."""
from __future__ import annotations

import cv2
import numpy as np

from vision.errors import VisionError

_TO_BGR = {1: cv2.COLOR_GRAY2BGR, 4: cv2.COLOR_BGRA2BGR}


class FrameFormatError(VisionError):
    """A frame that is no picture the pipeline can read (the message says what it was); it is skipped."""


def to_bgr8(image: object) -> np.ndarray:
    """``(H, W)``, ``(H, W, 1|3|4)`` of uint8 or uint16 -> contiguous BGR uint8 ``(H, W, 3)`` (the same array when
    it already is one); anything else raises FrameFormatError naming its shape and type."""
    if not isinstance(image, np.ndarray):
        raise FrameFormatError(f"camera frame is {type(image).__name__}, not an image")
    if image.ndim not in (2, 3) or image.size == 0:
        raise FrameFormatError(f"camera frame of shape {image.shape}: expected (H, W) or (H, W, channels)")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels not in (1, 3, 4):
        raise FrameFormatError(f"camera frame with {channels} channels: expected 1 (gray), 3 (BGR) or 4 (BGRA)")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)  # 16-bit gray/IR cameras: keep the high byte
    elif image.dtype != np.uint8:
        raise FrameFormatError(f"camera frame of {image.dtype} pixels: expected 8- or 16-bit unsigned")
    if channels != 3:
        image = cv2.cvtColor(np.ascontiguousarray(image), _TO_BGR[channels])
    return np.ascontiguousarray(image)
