"""`VisionSettings`: the `[camera]` and `[mood]` sections plus the pipeline's tuning knobs, in one frozen value."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from vision.errors import VisionError
from vision.config import CameraConfig, MoodConfig

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
    """The kiosk's ``[camera]`` and ``[mood]`` sections as they are, plus the tuning knobs no config carries.

    The sections bring their own defaults and ranges (`vision.config`); the rest is checked here.
    """

    camera: CameraConfig = field(default_factory=CameraConfig)
    mood: MoodConfig = field(default_factory=MoodConfig)
    open_timeout_s: float = 5.0  # how long opening / reading a stream may block before it counts as down
    reconnect_initial_s: float = 0.5  # first retry delay after a source goes down; doubles up to the max
    reconnect_max_s: float = 30.0
    folder_fps: float = 15.0  # frame rate given to an image folder (timestamps, and pacing when live)
    demo_fps: float = 15.0  # the bundled demo clip plays in a loop at this rate
    realtime_files: bool = False  # pace video files / folders at their frame rate (newest frame wins)
    # Face detection (MediaPipe Tasks BlazeFace).
    detector: Literal["short", "full"] = "short"
    detector_model: Path | None = None  # overrides the file picked by `detector`
    max_faces: int = 10
    # Expression (onnxruntime, contract read from the model's metadata). None: detection and tracking only.
    expression_model: Path | None = DEFAULT_EXPRESSION_MODEL
    # Tracking and smoothing.
    track_iou: float = 0.3  # a detection joins a track when the boxes overlap at least this much...
    track_center_ratio: float = 0.5  # ...or its centre is within this fraction of the track's box side
    track_max_missed_s: float = 1.0  # a track survives this long without a detection (missed frames)
    track_min_hits: int = 3  # detections before a track counts as a person (filters one-frame blips)
    smoothing_tau_s: float = 0.5  # time constant of the per-track EMA of expression probabilities
    qr_every_n: int = 5  # decode QR codes on every Nth frame only (QR decoding costs more than detection)

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str]] = [
            (isinstance(self.camera, CameraConfig), "camera: must be a vision.config.CameraConfig"),
            (isinstance(self.mood, MoodConfig), "mood: must be a vision.config.MoodConfig"),
            (self.open_timeout_s > 0, f"open_timeout_s: must be > 0, got {self.open_timeout_s}"),
            (0 < self.reconnect_initial_s <= self.reconnect_max_s,
             f"reconnect_initial_s/reconnect_max_s: need 0 < initial <= max, got {self.reconnect_initial_s}/{self.reconnect_max_s}"),
            (0 < self.folder_fps <= 240, f"folder_fps: must be in (0, 240], got {self.folder_fps}"),
            (0 < self.demo_fps <= 240, f"demo_fps: must be in (0, 240], got {self.demo_fps}"),
            (self.detector in DETECTOR_MODELS, f"detector: must be one of {sorted(DETECTOR_MODELS)}, got {self.detector!r}"),
            (1 <= self.max_faces <= 100, f"max_faces: must be in [1, 100], got {self.max_faces}"),
            (0 < self.track_iou < 1, f"track_iou: must be in (0, 1), got {self.track_iou}"),
            (0 < self.track_center_ratio <= 2, f"track_center_ratio: must be in (0, 2], got {self.track_center_ratio}"),
            (self.track_max_missed_s >= 0, f"track_max_missed_s: must be >= 0, got {self.track_max_missed_s}"),
            (self.track_min_hits >= 1, f"track_min_hits: must be >= 1, got {self.track_min_hits}"),
            (self.smoothing_tau_s >= 0, f"smoothing_tau_s: must be >= 0, got {self.smoothing_tau_s}"),
            (self.qr_every_n >= 1, f"qr_every_n: must be >= 1, got {self.qr_every_n}"),
        ]
        for ok, message in checks:
            if not ok:
                raise SettingsError(f"vision setting {message}")

    @property
    def detector_path(self) -> Path:
        """The face detector file in use."""
        return self.detector_model if self.detector_model is not None else DETECTOR_MODELS[self.detector]

    def with_(self, **changes: Any) -> VisionSettings:
        """A copy with some tuning fields (or whole sections) changed, validated again."""
        return replace(self, **changes)

    def with_camera(self, **changes: Any) -> VisionSettings:
        """A copy with some ``[camera]`` settings changed, checked against the section's ranges."""
        return replace(self, camera=_section_with(self.camera, changes))

    def with_mood(self, **changes: Any) -> VisionSettings:
        """A copy with some ``[mood]`` settings changed, checked against the section's ranges."""
        return replace(self, mood=_section_with(self.mood, changes))


_S = TypeVar("_S", CameraConfig, MoodConfig)


def section(kind: type[_S], **values: Any) -> _S:
    """A config section built in code, its range errors as one `SettingsError` line naming the setting."""
    try:
        return kind(**values)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        key = ".".join(str(part) for part in first["loc"])
        problem = str(first["msg"]).removeprefix("Value error, ")  # pydantic's prefix for a validator's own words
        raise SettingsError(f"vision setting {key}: {problem} (got {first.get('input')!r})") from None


def _section_with(current: _S, changes: dict[str, Any]) -> _S:
    return section(type(current), **{**dict(current), **changes})
