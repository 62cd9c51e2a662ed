"""Camera frames of odd layouts (gray, one channel, 16-bit, BGRA) are read; frames that are no picture (empty,
float, wrong rank) are skipped and said once, and the camera goes on (real MediaPipe on a real photograph)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.vision_settings import plain_settings
from tests.helpers.vision_frames import compose, held_person_video, person
from vision.frame_format import FrameFormatError, to_bgr8
from vision.pipeline import FrameProcessor, VisionPipeline
from vision.sources import Frame, VideoCaptureSource
from vision.types import FrameResult, SourceEvent

SETTINGS = plain_settings(mood={"window_seconds": 60, "k_anonymity": 1}, expression_model=None)
GOOD = compose([(person(), 200, 100)])


def _readable_layouts() -> dict[str, np.ndarray]:
    gray = GOOD[:, :, 1].copy()
    return {
        "gray (H, W)": gray,
        "gray (H, W, 1)": gray[:, :, None].copy(),
        "16-bit gray": gray.astype(np.uint16) * 257,
        "BGRA": np.dstack([GOOD, np.full(GOOD.shape[:2], 255, np.uint8)]),
        "BGR, strided view": np.repeat(GOOD, 2, axis=1)[:, ::2],
    }


def test_odd_but_readable_layouts_still_find_the_face() -> None:
    processor = FrameProcessor(SETTINGS)
    try:
        assert len(processor.process(GOOD, 1.0).result.faces) == 1
        for name, image in _readable_layouts().items():
            assert to_bgr8(image).shape == GOOD.shape and to_bgr8(image).dtype == np.uint8, name
            assert len(processor.process(image, 2.0).result.faces) == 1, name
    finally:
        processor.close()


@pytest.mark.parametrize(("image", "problem"), [
    (np.zeros((0, 0, 3), np.uint8), "shape (0, 0, 3)"),
    (np.zeros((480, 640, 3), np.float32), "float32 pixels"),
    (np.full((480, 640, 3), np.nan), "float64 pixels"),
    (np.zeros((480, 640, 3), bool), "bool pixels"),
    (np.zeros((1, 1, 480, 640, 3), np.uint8), "shape (1, 1, 480, 640, 3)"),
    (np.zeros((480, 640, 2), np.uint8), "2 channels"),  # raw YUYV bytes
    (None, "NoneType, not an image"),
])
def test_a_frame_that_is_no_picture_names_what_it_was(image: object, problem: str) -> None:
    with pytest.raises(FrameFormatError, match="camera frame") as caught:
        to_bgr8(image)
    assert problem in str(caught.value)


class OddCamera:
    """A live camera over a real video that sends a run of frames no backend should (a format we cannot read),
    and one broken frame later, like a USB camera with a bad MJPEG frame."""

    def __init__(self, video: Path) -> None:
        self._inner = VideoCaptureSource(video, "file", SETTINGS)
        self.name, self.live, self.pace_fps = "odd camera", False, None
        self.reads = 0

    def open(self) -> None:
        self._inner.open()

    def read(self) -> Frame | None:
        self.reads += 1
        frame = self._inner.read()
        if frame is not None and 3 <= self.reads <= 7:
            return Frame(frame.image.astype(np.float32) / 255, frame.timestamp, frame.index)
        if frame is not None and self.reads == 10:
            return Frame(np.zeros((0, 0, 3), np.uint8), frame.timestamp, frame.index)
        return frame

    def close(self) -> None:
        self._inner.close()


def test_the_camera_goes_on_after_frames_it_cannot_read(tmp_path: Path) -> None:
    """Before: the first float frame raised inside the worker ("vision worker crashed"), mood reading stopped
    for good and the rest of the video was never looked at."""
    video = held_person_video(tmp_path / "cam.mp4", seconds=1.0)  # 15 frames
    frames: list[FrameResult] = []
    events: list[SourceEvent] = []
    pipe = VisionPipeline(SETTINGS, frames.append, None, events.append, source=OddCamera(video), epoch=0.0)
    pipe.start()
    try:
        assert pipe.wait(60), "pipeline did not finish"
    finally:
        pipe.stop()
    health = pipe.health()
    assert health["frames"] == 15 - 6 and health["frames_rejected"] == 6
    assert [e.kind for e in events] == ["up", "down", "up", "ended"]  # the run of five said once, the single one not
    assert "float32 pixels" in events[1].message
    assert sum(1 for f in frames if f.faces) >= 5  # the frames after the run were analysed


class BrokenBackendCamera:
    """A live camera whose backend raises its own error (not a SourceError) on open, then works."""

    def __init__(self, video: Path) -> None:
        self._inner = VideoCaptureSource(video, "file", SETTINGS)
        self.name, self.live, self.pace_fps = "camera 7", False, None
        self.opens = 0

    def open(self) -> None:
        self.opens += 1
        if self.opens == 1:
            import cv2

            cv2.VideoCapture(2**70)  # what `source = "99999999999999999999"` did: cv2.error in the capture thread
        self._inner.open()

    def read(self) -> Frame | None:
        return self._inner.read()

    def close(self) -> None:
        self._inner.close()


def test_a_backend_error_is_an_outage_not_a_dead_capture_thread(tmp_path: Path) -> None:
    """Before: the cv2.error killed the capture thread (a traceback on stderr, no event): `analyze` ended with 0
    frames and exit 0, the kiosk showed a camera that was "on" and saw nothing. Now: down, then up on retry."""
    video = held_person_video(tmp_path / "cam.mp4", seconds=1.0)
    events: list[SourceEvent] = []
    camera = BrokenBackendCamera(video)
    camera.live = True  # retried like a camera
    pipe = VisionPipeline(SETTINGS.with_(reconnect_initial_s=0.05), None, None, events.append, source=camera)
    pipe.start()
    try:
        deadline = 50
        while "ended" not in [e.kind for e in events] and deadline:
            pipe.wait(0.2)
            deadline -= 1
    finally:
        pipe.stop()
    assert [e.kind for e in events][:2] == ["down", "up"]
    assert "\n" not in events[0].message and "VideoCapture" in events[0].message
    assert pipe.health()["frames"] > 0


def test_a_camera_index_out_of_range_is_a_config_problem() -> None:
    from pydantic import ValidationError

    from vision.config import CameraConfig

    with pytest.raises(ValidationError, match="camera index 99999999999999999999 is out of range 0..1023"):
        CameraConfig(source="99999999999999999999")
    assert CameraConfig(source="1023").source == "1023"
