"""The adaptive camera rate: a few frames a second while nobody is in view, the full (capped) rate from the
first face on, and the first face still found within one idle frame interval."""
from __future__ import annotations

import pytest

from helpers.vision_frames import compose, person, wall, write_video
from vision.pipeline import VisionPipeline
from helpers.vision_settings import plain_settings
from vision.settings import SettingsError, VisionSettings

FPS = 15.0


def test_idle_rate_until_someone_comes_then_the_active_rate(tmp_path):
    patch = person()
    frames = [wall() for _ in range(int(4 * FPS))] + [compose([(patch, 210, 110)]) for _ in range(int(3 * FPS))]
    video = write_video(tmp_path / "arrive.mp4", frames, FPS)
    settings = plain_settings({"source": str(video), "idle_fps": 3.0, "idle_after_s": 1.0, "active_fps": 10.0},
                              {"k_anonymity": 1}, expression_model=None, realtime_files=True)
    results = []
    pipe = VisionPipeline(settings, results.append, source=None, epoch=0.0)
    pipe.start()
    try:
        assert pipe.wait(30)
    finally:
        pipe.stop()
    stamps = [r.timestamp for r in results]
    idle = [t for t in stamps if 1.6 <= t < 4.0]  # nobody in view for over idle_after_s: 3 frames a second
    assert 4 <= len(idle) <= 10, stamps
    first_face = min(r.timestamp for r in results if r.faces)
    assert 4.0 <= first_face <= 4.0 + 1 / 3.0 + 2 / FPS  # at most one idle interval (plus a frame) late
    busy = [t for t in stamps if 4.6 <= t < 6.6]  # someone in view: the active cap of 10 a second
    assert 14 <= len(busy) <= 21, busy
    assert pipe.health()["frames"] == len(results) < len(frames)


def test_rates_must_be_sane():
    with pytest.raises(SettingsError, match="idle_fps"):
        VisionSettings().with_camera(idle_fps=-1)
    with pytest.raises(SettingsError, match="active_fps"):
        VisionSettings().with_camera(active_fps=1000)
