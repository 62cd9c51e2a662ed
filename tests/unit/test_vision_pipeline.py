"""The pipeline end to end on real video files and folders: people counted once, source events, reconnects, QR."""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers.vision_frames import compose, fer_faces, fer_patch, held_person_video, person, write_video
from vision.pipeline import FrameProcessor, VisionPipeline
from helpers.vision_settings import plain_settings
from vision.settings import DEFAULT_EXPRESSION_MODEL, VisionSettings
from vision.sources import (
    DemoSource,
    Frame,
    FrameSlot,
    SourceLostError,
    SourceOpenError,
    VideoCaptureSource,
    open_source,
    redact,
)
from vision.types import FrameResult, MoodWindow, SourceEvent

BASE = plain_settings(mood={"window_seconds": 60, "k_anonymity": 1}, expression_model=None,
                      reconnect_initial_s=0.05, reconnect_max_s=0.2, open_timeout_s=1.0)


class Recorder:
    """Collects what the pipeline calls back with (from its worker thread)."""

    def __init__(self) -> None:
        self.frames: list[FrameResult] = []
        self.windows: list[MoodWindow] = []
        self.events: list[SourceEvent] = []

    def run(self, settings: VisionSettings, source=None, epoch: float = 0.0, timeout: float = 60.0) -> Recorder:
        pipe = VisionPipeline(settings, self.frames.append, self.windows.append, self.events.append,
                              source=source, epoch=epoch)
        pipe.start()
        try:
            assert pipe.wait(timeout), "pipeline did not finish"
        finally:
            pipe.stop()
        self.health = pipe.health()
        return self

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def test_person_held_for_3_s_is_one_person(tmp_path):
    video = held_person_video(tmp_path / "held.mp4", seconds=3.0)
    rec = Recorder().run(BASE.with_camera(source=str(video)))
    assert rec.kinds == ["up", "ended"]
    assert len(rec.frames) == 45 and rec.health["frames_dropped"] == 0  # a file is analysed frame by frame
    assert sum(len(f.faces) == 1 for f in rec.frames) >= 43
    assert {f.faces[0].track_id for f in rec.frames if f.faces} == {1}
    (window,) = rec.windows
    assert window.people == 1 and window.counts["uncertain"] == 1
    assert window.start.timestamp() == 0.0 and window.end.timestamp() == pytest.approx(44 / 15, abs=1e-3)


def test_fer_faces_in_a_video_are_counted_per_person_and_window(tmp_path):
    faces, _, _ = fer_faces()
    patches = [(person(), 10, 120)] + [(fer_patch(faces[i], 190), 240 + (i % 2) * 200, 20 + (i // 2) * 240) for i in range(4)]
    frames = [compose([(p, x + int(4 * np.sin(t / 5)), y) for p, x, y in patches]) for t in range(60)]
    video = write_video(tmp_path / "crowd.mp4", frames, fps=15)
    settings = BASE.with_camera(source=str(video)).with_mood(window_seconds=2.0, k_anonymity=2)
    rec = Recorder().run(settings)
    in_view = len(rec.frames[10].faces)
    assert in_view >= 3  # the astronaut and most FER faces
    windows = rec.windows
    assert [w.start.timestamp() for w in windows] == [0.0, 2.0]  # 4 s of video: two 2-s windows
    assert all(w.people == in_view and w.merged_windows == 1 for w in windows)
    assert all(sum(w.counts.values()) == w.people for w in windows)


def test_k_anonymity_merges_a_lonely_window_into_the_next(tmp_path):
    patch = person()
    lonely = [compose([(patch, 210, 110)]) for _ in range(30)]  # 2 s: one person in the middle
    crowd = [compose([(patch, 0, 110), (cv2.flip(patch, 1), 420, 110)]) for _ in range(30)]  # 2 s: two others
    video = write_video(tmp_path / "merge.mp4", lonely + crowd, fps=15)
    rec = Recorder().run(BASE.with_camera(source=str(video)).with_mood(window_seconds=2.0, k_anonymity=3))
    (window,) = rec.windows
    assert window.merged_windows == 2 and window.people == 3
    assert window.start.timestamp() == 0.0


def test_missing_file_reports_down_then_ended(tmp_path):
    rec = Recorder().run(BASE.with_camera(source=str(tmp_path / "gone.mp4")))
    assert rec.kinds == ["down", "ended"]
    assert "gone.mp4: no such file" in rec.events[0].message
    assert rec.frames == [] and rec.windows == []


def test_url_that_never_opens_fails_fast_with_one_line(unused_port):
    source = open_source(f"http://user:secret@127.0.0.1:{unused_port}/cam", BASE)
    with pytest.raises(SourceOpenError) as err:
        source.open()
    message = str(err.value)
    assert "127.0.0.1" in message and "did not open" in message and "secret" not in message and "\n" not in message


def test_unsupported_scheme_and_redaction():
    with pytest.raises(SourceOpenError, match="unsupported URL scheme"):
        open_source("ftp://host/cam", BASE)
    assert redact("rtsp://admin:pw@10.0.0.5:554/s") == "rtsp://admin:***@10.0.0.5:554/s"
    # only 0-9 make a camera index: "²" passes str.isdigit() but not int(), so it is a file name like any other
    assert open_source("2", BASE).name == "camera 2" and open_source("²", BASE).name == "file ²"


def test_image_folder_skips_unreadable_files(tmp_path, caplog):
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), compose([(person(), 100 + 5 * i, 110)]))
    (tmp_path / "02b.png").write_bytes(b"not a png")
    rec = Recorder().run(BASE.with_camera(source=str(tmp_path)).with_(folder_fps=10.0))
    assert len(rec.frames) == 4 and [f.timestamp for f in rec.frames] == [0.0, 0.1, 0.2, pytest.approx(0.3)]
    assert "02b.png: unreadable, skipped" in caplog.text


class FlakyCamera:
    """A live source over a real video file that fails to open once and drops out once, like a USB camera."""

    def __init__(self, video: Path) -> None:
        self._inner = VideoCaptureSource(video, "file", BASE)
        self.name, self.live, self.pace_fps = "camera flaky", True, None
        self.opens = 0
        self.reads = 0

    def open(self) -> None:
        self.opens += 1
        if self.opens == 1:
            raise SourceOpenError("camera flaky: busy")
        self._inner.open()

    def read(self) -> Frame | None:
        self.reads += 1
        if self.reads == 10:
            raise SourceLostError("camera flaky: unplugged")
        return self._inner.read()

    def close(self) -> None:
        self._inner.close()


def test_live_source_reopens_with_backoff_and_reports_each_change(tmp_path):
    video = held_person_video(tmp_path / "cam.mp4", seconds=1.0)
    rec = Recorder().run(BASE, source=FlakyCamera(video))
    assert rec.kinds == ["down", "up", "down", "up", "ended"]
    assert "busy" in rec.events[0].message and "unplugged" in rec.events[2].message
    # 9 frames before the drop-out, then the whole clip again; live: the worker may skip to the newest frame
    assert rec.health["frames"] + rec.health["frames_dropped"] == 9 + 15 and len(rec.frames) >= 2


def test_slot_keeps_only_the_newest_frame_for_live_sources():
    slot, stop = FrameSlot(), threading.Event()
    img = np.zeros((2, 2, 3), np.uint8)
    for i in range(3):
        slot.put(Frame(img, float(i), i), wait=False, stop=stop)
    assert slot.take(0.1).index == 2 and slot.dropped == 2
    assert slot.take(0.01) is None


def test_demo_source_loops_forever():
    source = DemoSource(BASE)
    source.open()
    try:
        indices = [source.read().index for _ in range(200)]  # the clip has 180 frames
    finally:
        source.close()
    assert indices == list(range(200))


def test_qr_code_is_decoded_inside_vision():
    qr = cv2.QRCodeEncoder.create().encode("moodkiosk:card:4006381333931")
    qr = cv2.resize(qr, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    qr = cv2.copyMakeBorder(qr, 24, 24, 24, 24, cv2.BORDER_CONSTANT, value=255)
    frame = compose([(cv2.cvtColor(qr, cv2.COLOR_GRAY2BGR), 200, 100)])
    processor = FrameProcessor(BASE.with_camera(qr=True).with_(qr_every_n=2))
    try:
        texts = [processor.process(frame, float(i)).result.qr_text for i in range(4)]
    finally:
        processor.close()
    assert texts == ["moodkiosk:card:4006381333931", None, "moodkiosk:card:4006381333931", None]


def test_results_carry_no_pixels(tmp_path):
    video = held_person_video(tmp_path / "p.mp4", seconds=0.5)
    rec = Recorder().run(BASE.with_camera(source=str(video)))

    def values(obj):
        if dataclasses.is_dataclass(obj):
            for f in dataclasses.fields(obj):
                yield from values(getattr(obj, f.name))
        elif isinstance(obj, (tuple, list)):
            for item in obj:
                yield from values(item)
        elif isinstance(obj, dict) or hasattr(obj, "items"):
            for k, v in obj.items():
                yield k
                yield from values(v)
        else:
            yield obj

    everything = list(values(rec.frames)) + list(values(rec.windows))
    assert everything and not any(isinstance(v, (np.ndarray, bytes, bytearray)) for v in everything)


def test_the_pipeline_takes_the_kiosk_config_sections_as_they_are():
    from kiosk.app import vision_settings
    from kiosk.config import parse_config

    config = parse_config({"camera": {"min_face_px": 64, "qr": False, "model_file": "/tmp/m.onnx"},
                           "mood": {"window_seconds": 30, "k_anonymity": 5}})
    settings = vision_settings(config)
    assert settings.camera is config.camera and settings.mood is config.mood  # the same values, not copies
    assert str(settings.expression_model) == "/tmp/m.onnx"
    assert vision_settings(parse_config({})).expression_model == DEFAULT_EXPRESSION_MODEL


@pytest.mark.parametrize(("section_name", "changes", "problem"), [
    ("camera", {"min_face_px": 8}, "camera.min_face_px"),  # one range: the config's, for every caller
    ("camera", {"threads": 64}, "camera.threads"),
    ("mood", {"k_anonymity": 0}, "mood.k_anonymity"),
    ("mood", {"window_seconds": 0.5}, "mood.window_seconds"),
])
def test_a_setting_has_one_range_whoever_builds_it(section_name, changes, problem):
    from kiosk.config import ConfigError, parse_config
    from vision.settings import SettingsError

    with pytest.raises(SettingsError, match=problem.split(".")[1]):
        getattr(BASE, f"with_{section_name}")(**changes)
    with pytest.raises(ConfigError, match=problem):
        parse_config({section_name: changes})


@pytest.fixture()
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
