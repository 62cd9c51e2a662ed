"""Vision settings for tests: the `[camera]` / `[mood]` sections with the kiosk-only features off unless asked.

The kiosk's defaults turn on QR decoding, the adaptive frame rate, two model threads and the staff dwell
cut; a pipeline test asks for the ones it checks, so the others cannot move its frame counts."""
from __future__ import annotations

from typing import Any

from vision.config import CameraConfig, MoodConfig
from vision.settings import VisionSettings, section

PLAIN_CAMERA: dict[str, Any] = {"qr": False, "idle_fps": 0.0, "active_fps": 0.0, "threads": 1}
PLAIN_MOOD: dict[str, Any] = {"max_dwell_s": None}


def plain_settings(camera: dict[str, Any] | None = None, mood: dict[str, Any] | None = None,
                   **tuning: Any) -> VisionSettings:
    """`VisionSettings` with the plain camera and mood sections, `camera` / `mood` changes and tuning knobs."""
    return VisionSettings(
        camera=section(CameraConfig, **{**PLAIN_CAMERA, **(camera or {})}),
        mood=section(MoodConfig, **{**PLAIN_MOOD, **(mood or {})}),
        **tuning,
    )
