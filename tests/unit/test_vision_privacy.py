"""Privacy in the vision pipeline, on the bundled demo clip and real photos: the shopper's pause, privacy zones,
long-dwell staff, opening hours. Real MediaPipe; the aggregator is the real one, spied on to count frames."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers.vision_frames import held_person_video
from vision.aggregate import MoodAggregator
from vision.analysis_gate import AnalysisGate, GateState
from vision.opening_hours import OpeningHours, OpeningHoursError
from vision.pipeline import FrameProcessor, VisionPipeline
from vision.privacy_zones import PrivacyZones, ZoneError
from helpers.vision_settings import plain_settings
from vision.settings import VisionSettings
from vision.sources import DEMO_CLIP
from vision.types import FrameResult, MoodWindow

CLIP = str(DEMO_CLIP)
SETTINGS = plain_settings({"source": str(CLIP)}, {"window_seconds": 4, "k_anonymity": 1}, expression_model=None)


class Run:
    """The real pipeline over the demo clip read frame by frame (timestamps 0..12 s), with the aggregator's
    `observe` spied on: every frame timestamp that reaches the aggregator is recorded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, settings: VisionSettings = SETTINGS,
                 gate: AnalysisGate | None = None, on_frame=None, epoch: float = 0.0) -> None:
        self.observed: list[float] = []
        self.frames: list[FrameResult] = []
        self.windows: list[MoodWindow] = []
        original = MoodAggregator.observe

        def spy(aggregator: MoodAggregator, ts: float, people):  # the real method, counted
            self.observed.append(ts)
            return original(aggregator, ts, people)

        monkeypatch.setattr(MoodAggregator, "observe", spy)

        def frame(result: FrameResult) -> None:
            self.frames.append(result)
            if on_frame is not None:
                on_frame(result)

        pipe = VisionPipeline(settings, frame, self.windows.append, None, epoch=epoch, gate=gate)
        pipe.start()
        try:
            assert pipe.wait(120), "pipeline did not finish the clip"
        finally:
            pipe.stop()
        monkeypatch.setattr(MoodAggregator, "observe", original)
        self.health = pipe.health()

    def window(self, start_s: float) -> MoodWindow | None:
        return next((w for w in self.windows if w.start.timestamp() == start_s), None)


def test_no_frame_of_a_shoppers_pause_reaches_the_aggregator(monkeypatch: pytest.MonkeyPatch) -> None:
    baseline = Run(monkeypatch)
    assert len(baseline.observed) == len(baseline.frames) == 180  # 12 s at 15 fps, every frame analysed
    assert baseline.window(4.0) is not None and baseline.window(4.0).people >= 1
    assert baseline.window(8.0) is not None and baseline.window(8.0).people >= 1

    gate = AnalysisGate()

    def shopper(result: FrameResult) -> None:  # presses "without mood reading" at 5 s, the pause ends at 9 s
        if 5.0 <= result.timestamp < 9.0 and not gate.paused:
            gate.pause()
        elif result.timestamp >= 9.0 and gate.paused:
            gate.resume()

    paused = Run(monkeypatch, gate=gate, on_frame=shopper)
    during = [ts for ts in paused.observed if 5.0 + 1 / 15 <= ts < 9.0]
    assert during == []  # not one frame of the pause reached the aggregator
    withheld = paused.health["frames_withheld"]
    assert withheld == 60 and len(paused.observed) == 180 - withheld  # 5.07 s .. 9.0 s withheld (the gate is read before each frame), nothing else
    assert all(not f.faces for f in paused.frames if 5.0 < f.timestamp < 9.0)  # nor the detector or the screen
    # The window open when the shopper paused (4-8 s) was closed during the pause: it holds none of the
    # frames of the people in view (they are dropped from it), where the run without the pause counted them.
    assert paused.window(4.0) is not None and paused.window(4.0).people == 0
    assert paused.window(8.0) is not None and paused.window(8.0).people >= 1  # analysis back after 9 s


def test_privacy_zone_blanks_the_faces_before_detection() -> None:
    capture = cv2.VideoCapture(CLIP)
    frames = []
    for _ in range(20):
        ok, image = capture.read()
        assert ok
        frames.append(image)
    capture.release()
    open_processor = FrameProcessor(SETTINGS, classifier=None)
    whole = PrivacyZones.parse([[[0, 0], [1, 0], [1, 1], [0, 1]]])
    zoned = FrameProcessor(SETTINGS.with_camera(privacy_zones=whole), classifier=None)
    elsewhere = FrameProcessor(SETTINGS.with_camera(privacy_zones=PrivacyZones.parse([[[0, 0], [0.05, 0], [0.05, 0.05]]])),
                               classifier=None)
    try:
        seen = [len(open_processor.process(f, i / 15).result.faces) for i, f in enumerate(frames)]
        assert sum(seen) >= 18
        assert [len(zoned.process(f, i / 15).result.faces) for i, f in enumerate(frames)] == [0] * 20
        assert [len(elsewhere.process(f, i / 15).result.faces) for i, f in enumerate(frames)] == seen
        assert frames[0].any() and zoned.settings.camera.privacy_zones.blank(frames[0]).max() == 0
        assert frames[0].max() > 0  # the camera's frame itself is not changed, only the copy analysed
    finally:
        for processor in (open_processor, zoned, elsewhere):
            processor.close()


@pytest.mark.parametrize("raw, problem", [
    ([[[0, 0], [1.2, 0], [1, 1]]], "zone 1: point 2 [1.2, 0] lies outside the frame"),
    ([[]], "zone 1: is empty"),
    ([[[0, 0], [1, 1]]], "zone 1: has 2 point(s)"),
    ([[[0, 0], [0.5, 0.5], [1, 1]]], "zone 1: its points enclose no area"),
    ([[[0, 0], [1, 0], ["a", 1]]], "zone 1: point 3 must be [x, y]"),
    ("everything", "must be a list of polygons"),
])
def test_bad_zones_are_one_line_naming_the_zone(raw, problem) -> None:
    with pytest.raises(ZoneError) as info:
        PrivacyZones.parse(raw, "camera.privacy_zones")
    assert str(info.value).startswith("camera.privacy_zones: ") and problem in str(info.value)
    assert "\n" not in str(info.value)


def test_someone_in_view_longer_than_max_dwell_is_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = str(held_person_video(tmp_path / "held.mp4", seconds=4.0))  # a person standing 4 s at the kiosk
    settings = plain_settings({"source": str(video)}, {"window_seconds": 60, "k_anonymity": 1}, expression_model=None)
    shopper = Run(monkeypatch, settings)
    staff = Run(monkeypatch, settings.with_mood(max_dwell_s=2.0))
    assert [w.people for w in shopper.windows] == [1]
    assert [w.people for w in staff.windows] == [0]  # dropped, including the 2 s already counted


def test_outside_opening_hours_nothing_is_analysed(monkeypatch: pytest.MonkeyPatch) -> None:
    hours = OpeningHours.parse(["mon-fri 08:00-20:00"], "Europe/Berlin")
    sunday = datetime(2026, 5, 3, 10, 0, tzinfo=timezone.utc).timestamp()
    monday = datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc).timestamp()  # 12:00 in Berlin
    closed = Run(monkeypatch, gate=AnalysisGate(hours), epoch=sunday)
    assert closed.observed == [] and closed.health["frames_withheld"] == 180 and closed.windows == []
    open_ = Run(monkeypatch, gate=AnalysisGate(hours), epoch=monday)
    assert len(open_.observed) == 180 and open_.windows


def test_opening_hours_rules() -> None:
    hours = OpeningHours.parse(["mon-fri 08:00-20:00", "sat 09:00-14:00", "sun 10:00-24:00"], "Europe/Berlin")
    at = lambda *args: datetime(*args, tzinfo=timezone.utc).timestamp()  # noqa: E731
    assert hours.is_open(at(2026, 7, 6, 6, 0))  # Monday 08:00 in Berlin (summer time)
    assert not hours.is_open(at(2026, 7, 6, 5, 59))
    assert not hours.is_open(at(2026, 7, 6, 18, 0))  # 20:00 is closed
    assert hours.is_open(at(2026, 7, 11, 11, 0)) and not hours.is_open(at(2026, 7, 11, 12, 0))  # Saturday
    assert hours.is_open(at(2026, 7, 12, 21, 59))  # Sunday 23:59
    gate = AnalysisGate(hours)
    assert gate.state(at(2026, 7, 6, 10, 0)) is GateState.OPEN
    gate.pause()
    assert gate.state(at(2026, 7, 6, 10, 0)) is GateState.PAUSED
    assert AnalysisGate().state(0.0) is GateState.OPEN  # no hours: no limit


@pytest.mark.parametrize("entries, problem", [
    (["mon-sat 08:00-20:00", "sat 09:00-14:00"], "entry 2 'sat 09:00-14:00': overlaps entry 1 'mon-sat 08:00-20:00' on sat"),
    (["mon 20:00-08:00"], "closes at or before it opens"),
    (["monday 08:00-20:00"], "'monday' is not a day"),
    (["mon 8-20"], "expected 'DAYS HH:MM-HH:MM'"),
    (["mon 08:00-25:00"], "25:00 is not a time of day"),
    (["fri-mon 08:00-20:00"], "runs backwards"),
])
def test_bad_opening_hours_name_the_entry(entries, problem) -> None:
    with pytest.raises(OpeningHoursError) as info:
        OpeningHours.parse(entries, "Europe/Berlin", "")
    assert problem in str(info.value) and "\n" not in str(info.value)
