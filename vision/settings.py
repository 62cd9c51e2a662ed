"""`VisionSettings`: every knob of the vision pipeline in one frozen value, mapped from the kiosk config."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from vision.errors import VisionError
from vision.privacy_zones import PrivacyZones

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DETECTOR_MODELS: dict[str, Path] = {
    "short": MODELS_DIR / "face_detector_short_range.tflite",
    "full": MODELS_DIR / "face_detector_full_range.tflite",
}
DEFAULT_EXPRESSION_MODEL = MODELS_DIR / "expression.onnx"


class SettingsError(VisionError):
    """A vision setting is out of range or inconsistent."""


@dataclass(frozen=True, slots=True)
class VisionSettings:
    """Settings of sources, detection, expression, tracking and aggregation.

    Kiosk config mapping (see `from_sections`): ``[camera]`` source, min_face_px, min_score, threads, qr;
    ``[mood]`` window_seconds, k_anonymity, confidence_threshold. Everything else keeps its default unless a
    section carries a field of the same name.
    """

    # Source: "demo", a camera index ("0"), a video file, an image folder, or an rtsp/http(s) URL.
    source: str = "demo"
    open_timeout_s: float = 5.0  # how long opening / reading a stream may block before it counts as down
    reconnect_initial_s: float = 0.5  # first retry delay after a source goes down; doubles up to the max
    reconnect_max_s: float = 30.0
    folder_fps: float = 15.0  # frame rate given to an image folder (timestamps, and pacing when live)
    demo_fps: float = 15.0  # the bundled demo clip plays in a loop at this rate
    # Adaptive rate (live sources): with nobody in view for idle_after_s, only idle_fps frames a second are
    # processed; the first face brings the full rate back. 0 = always the full rate.
    idle_fps: float = 0.0
    idle_after_s: float = 2.0
    active_fps: float = 0.0  # cap while someone is in view (live sources); 0 = every frame the camera delivers
    realtime_files: bool = False  # pace video files / folders at their frame rate (newest frame wins)
    # Face detection (MediaPipe Tasks BlazeFace).
    detector: Literal["short", "full"] = "short"
    detector_model: Path | None = None  # overrides the file picked by `detector`
    min_face_px: int = 48  # faces whose box is smaller than this (both sides) are ignored
    min_score: float = 0.5
    max_faces: int = 10
    # Expression (onnxruntime, contract read from the model's metadata).
    expression_model: Path | None = DEFAULT_EXPRESSION_MODEL  # None: detection and tracking only
    threads: int = 1  # onnxruntime intra-op threads for the expression model
    # Tracking and smoothing.
    track_iou: float = 0.3  # a detection joins a track when the boxes overlap at least this much...
    track_center_ratio: float = 0.5  # ...or its centre is within this fraction of the track's box side
    track_max_missed_s: float = 1.0  # a track survives this long without a detection (missed frames)
    track_min_hits: int = 3  # detections before a track counts as a person (filters one-frame blips)
    smoothing_tau_s: float = 0.5  # time constant of the per-track EMA of expression probabilities
    confidence_threshold: float = 0.5  # smoothed top probability needed to report an expression
    # QR codes (decoded inside vision so frames never leave it).
    qr: bool = False
    qr_every_n: int = 5  # decode every Nth frame only (QR decoding costs more than detection)
    # Aggregation.
    window_seconds: float = 60.0
    k_anonymity: int = 3
    # Privacy (staff are not measured): zones blanked before detection, long dwellers left out of windows.
    privacy_zones: PrivacyZones = PrivacyZones()
    max_dwell_s: float | None = None  # a face in view longer than this is staff: dropped from the windows

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str]] = [
            (bool(str(self.source).strip()), "source: must not be empty"),
            (self.open_timeout_s > 0, f"open_timeout_s: must be > 0, got {self.open_timeout_s}"),
            (0 < self.reconnect_initial_s <= self.reconnect_max_s,
             f"reconnect_initial_s/reconnect_max_s: need 0 < initial <= max, got {self.reconnect_initial_s}/{self.reconnect_max_s}"),
            (0 < self.folder_fps <= 240, f"folder_fps: must be in (0, 240], got {self.folder_fps}"),
            (0 < self.demo_fps <= 240, f"demo_fps: must be in (0, 240], got {self.demo_fps}"),
            (0 <= self.idle_fps <= 240, f"idle_fps: must be in [0, 240], got {self.idle_fps}"),
            (self.idle_after_s >= 0, f"idle_after_s: must be >= 0, got {self.idle_after_s}"),
            (0 <= self.active_fps <= 240, f"active_fps: must be in [0, 240], got {self.active_fps}"),
            (self.detector in DETECTOR_MODELS, f"detector: must be one of {sorted(DETECTOR_MODELS)}, got {self.detector!r}"),
            (8 <= self.min_face_px <= 4096, f"min_face_px: must be in [8, 4096], got {self.min_face_px}"),
            (0 < self.min_score <= 1, f"min_score: must be in (0, 1], got {self.min_score}"),
            (1 <= self.max_faces <= 100, f"max_faces: must be in [1, 100], got {self.max_faces}"),
            (1 <= self.threads <= 64, f"threads: must be in [1, 64], got {self.threads}"),
            (0 < self.track_iou < 1, f"track_iou: must be in (0, 1), got {self.track_iou}"),
            (0 < self.track_center_ratio <= 2, f"track_center_ratio: must be in (0, 2], got {self.track_center_ratio}"),
            (self.track_max_missed_s >= 0, f"track_max_missed_s: must be >= 0, got {self.track_max_missed_s}"),
            (self.track_min_hits >= 1, f"track_min_hits: must be >= 1, got {self.track_min_hits}"),
            (self.smoothing_tau_s >= 0, f"smoothing_tau_s: must be >= 0, got {self.smoothing_tau_s}"),
            (0 <= self.confidence_threshold <= 1, f"confidence_threshold: must be in [0, 1], got {self.confidence_threshold}"),
            (self.qr_every_n >= 1, f"qr_every_n: must be >= 1, got {self.qr_every_n}"),
            (self.window_seconds > 0, f"window_seconds: must be > 0, got {self.window_seconds}"),
            (self.k_anonymity >= 1, f"k_anonymity: must be >= 1, got {self.k_anonymity}"),
            (isinstance(self.privacy_zones, PrivacyZones), "privacy_zones: must be PrivacyZones (use PrivacyZones.parse)"),
            (self.max_dwell_s is None or self.max_dwell_s > 0, f"max_dwell_s: must be > 0 or None, got {self.max_dwell_s}"),
        ]
        for ok, message in checks:
            if not ok:
                raise SettingsError(f"vision setting {message}")

    @property
    def detector_path(self) -> Path:
        """The face detector file in use."""
        return self.detector_model if self.detector_model is not None else DETECTOR_MODELS[self.detector]

    def with_(self, **changes: Any) -> VisionSettings:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @classmethod
    def from_sections(cls, camera: Any, mood: Any, **overrides: Any) -> VisionSettings:
        """Build from the kiosk config's ``[camera]`` and ``[mood]`` sections (any objects with attributes).

        Every attribute of either section whose name is a `VisionSettings` field is taken (so a section may
        grow new vision fields without code here); `overrides` win over both.
        """
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for section in (camera, mood):
            for name in names:
                if hasattr(section, name):
                    values[name] = getattr(section, name)
        for path_field in ("detector_model", "expression_model"):
            if values.get(path_field) is not None:
                values[path_field] = Path(values[path_field])
        if values.get("privacy_zones") is not None and not isinstance(values["privacy_zones"], PrivacyZones):
            values["privacy_zones"] = PrivacyZones.parse(values["privacy_zones"], "camera.privacy_zones")
        values.update(overrides)
        return cls(**values)
