"""The vision pipeline's own config sections, `[camera]` and `[mood]`: the kiosk's config is made of them.

Each setting has its one default and one range here; `VisionSettings` holds these values as they are
(Frigate's shape: a component takes its section, nobody copies its fields)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vision.privacy_zones import PrivacyZones, ZoneError


MAX_CAMERA_INDEX = 1023  # /dev/video0../dev/video1023; a larger "index" raised inside the capture thread


class ConfigSection(BaseModel):
    """Base of a config section: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


class CameraConfig(ConfigSection):
    """``[camera]``: the frame source, face detection, the adaptive frame rate and the privacy zones."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    enabled: bool = Field(True, description="Use the camera at all; off = cards and buttons only, no mood.")
    source: str = Field(
        "demo",
        description='"demo" (webcam if present, else the bundled clip), a device index like "0", '
        "a video file / image folder path, or an rtsp:// URL.",
        min_length=1,
    )
    min_face_px: int = Field(48, ge=16, le=1024, description="Ignore faces smaller than this (pixels, box side).")
    min_score: float = Field(0.5, gt=0.0, le=1.0, description="Face detector score threshold.")
    threads: int = Field(2, ge=1, le=16, description="Inference threads for the expression model.")
    qr: bool = Field(True, description="Decode loyalty-app QR codes from the camera frames (on the device).")
    idle_fps: float = Field(
        3.0, ge=0, le=60, description="Frames a second processed while nobody is in view (the full camera rate "
        "returns with the first face); 0 = always the full rate."
    )
    idle_after_s: float = Field(2.0, ge=0, le=600, description="Seconds without a face before the idle rate starts.")
    active_fps: float = Field(
        10.0, ge=0, le=60, description="Most frames a second processed while someone is in view; 0 = every frame."
    )
    model_file: Path | None = Field(
        None, description="Expression model outside the package, e.g. DATA_DIR/models/current.onnx as kept by "
        "`moodkiosk model install`; unset: the shipped model."
    )
    privacy_zones: PrivacyZones = Field(
        PrivacyZones(), description="Polygons blanked before face detection (a till, a staff area): a list of zones, "
        "each a list of [x, y] points as fractions of the frame (0..1, x from the left, y from the top). Check them "
        "with `moodkiosk privacy-zones`.",
    )

    @field_validator("source")
    @classmethod
    def _camera_index(cls, value: str) -> str:
        text = value.strip()
        if text.isascii() and text.isdigit() and int(text) > MAX_CAMERA_INDEX:
            raise ValueError(f"camera index {text} is out of range 0..{MAX_CAMERA_INDEX} (see `moodkiosk cameras`)")
        return value

    @field_validator("privacy_zones", mode="before")
    @classmethod
    def _zones(cls, value: Any) -> PrivacyZones:
        if isinstance(value, PrivacyZones):
            return value
        try:
            return PrivacyZones.parse(value, "")
        except ZoneError as exc:
            raise ValueError(str(exc)) from None


class MoodConfig(ConfigSection):
    """``[mood]``: the anonymous windows (length, k-anonymity), the confidence needed and the staff dwell cut."""

    window_seconds: float = Field(60.0, ge=1, le=3600, description="Length of one mood aggregate window (seconds).")
    k_anonymity: int = Field(
        3, ge=1, le=100, description="A window with fewer distinct people is merged into the next one, never sent alone."
    )
    confidence_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Below this smoothed probability a face's expression counts as uncertain."
    )
    max_dwell_s: float | None = Field(
        600.0, gt=0.0, le=86_400.0, description="A face in view longer than this (seconds) is staff, not a shopper: "
        "it is dropped from the mood windows. Unset: no limit.",
    )
