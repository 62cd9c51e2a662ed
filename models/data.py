"""Load and validate FER2013 splits in the shared .npz format (x uint8 (N,48,48), y int8 (N,), id, classes)."""
from __future__ import annotations

import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import ModelError

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
FER_DIR_ENV = "MOODKIOSK_FER_DIR"
FER_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
TRAIN_FILE = "fer2013_train.npz"
PUBLIC_TEST_FILE = "fer2013_public_test.npz"


class DataFileError(ModelError):
    """A FER2013 .npz file is missing, unreadable or not in the shared format."""


@dataclass(frozen=True)
class FerSplit:
    """One FER2013 split: gray faces ``x (N, S, S) uint8``, labels ``y (N,) int64``, image ids and class names."""

    path: Path
    x: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.x.shape[0])


def fer_dir() -> Path:
    """Where the shared FER2013 files live: ``$MOODKIOSK_FER_DIR`` or ``../shared/data`` beside the repo."""
    override = os.environ.get(FER_DIR_ENV)
    return Path(override) if override else REPO_ROOT.parent / "shared" / "data"


def default_split_path(name: str) -> Path:
    """Path of a shared split file by name (e.g. ``fer2013_train.npz``)."""
    return fer_dir() / name


def load_split(path: Path | str) -> FerSplit:
    """Read and validate one split; any problem raises a one-line `DataFileError` naming the file."""
    path = Path(path)
    if not path.is_file():
        hint = f" (set {FER_DIR_ENV} to the folder holding the FER2013 .npz files)" if path.suffix == ".npz" else ""
        raise DataFileError(f"data file {path}: no such file{hint}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataFileError(f"data file {path}: not a readable .npz ({exc})") from exc
    for key in ("x", "y"):
        if key not in arrays:
            raise DataFileError(f"data file {path}: missing array {key!r} (has {sorted(arrays)})")
    x, y = arrays["x"], arrays["y"]
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1] != x.shape[2] or x.shape[0] == 0:
        raise DataFileError(f"data file {path}: x must be uint8 (N, S, S) with N > 0, got {x.dtype} {x.shape}")
    if y.ndim != 1 or y.shape[0] != x.shape[0] or not np.issubdtype(y.dtype, np.integer):
        raise DataFileError(f"data file {path}: y must be integer (N,) = ({x.shape[0]},), got {y.dtype} {y.shape}")
    classes = tuple(str(c) for c in arrays["classes"]) if "classes" in arrays else FER_CLASSES
    if len(classes) == 0 or len(set(classes)) != len(classes):
        raise DataFileError(f"data file {path}: classes must be distinct names, got {list(classes)}")
    if y.min() < 0 or y.max() >= len(classes):
        raise DataFileError(f"data file {path}: labels must lie in 0..{len(classes) - 1}, got {int(y.min())}..{int(y.max())}")
    ids = arrays.get("id", np.arange(x.shape[0], dtype=np.int64))
    if ids.shape != y.shape:
        raise DataFileError(f"data file {path}: id must be (N,) = ({x.shape[0]},), got {ids.shape}")
    logger.debug("loaded %s: %d faces of %d px, %d classes", path, x.shape[0], x.shape[1], len(classes))
    return FerSplit(path=path, x=np.ascontiguousarray(x), y=y.astype(np.int64), ids=ids.astype(np.int64), classes=classes)
