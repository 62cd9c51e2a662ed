"""FER2013 .npz loading: the shared format is accepted, anything else is a one-line error naming the file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.data import FER_CLASSES, DataFileError, default_split_path, load_split
from models.errors import ModelError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "fer_faces.npz"


def _one_line_error(path: Path, match: str) -> str:
    with pytest.raises(DataFileError) as info:
        load_split(path)
    message = str(info.value)
    assert isinstance(info.value, ModelError)
    assert str(path) in message and "\n" not in message and match in message
    return message


def test_fixture_is_a_balanced_split_in_the_shared_format():
    split = load_split(FIXTURE)
    assert split.classes == FER_CLASSES
    assert split.x.shape == (98, 48, 48) and split.x.dtype == np.uint8
    assert np.bincount(split.y, minlength=7).tolist() == [14] * 7
    assert len(set(split.ids.tolist())) == 98


def test_wrong_shape_is_rejected(tmp_path):
    bad = tmp_path / "flat.npz"
    np.savez(bad, x=np.zeros((4, 48 * 48), np.uint8), y=np.zeros(4, np.int8))
    _one_line_error(bad, "x must be uint8 (N, S, S)")


def test_wrong_dtype_label_count_and_range_are_rejected(tmp_path):
    floats = tmp_path / "float.npz"
    np.savez(floats, x=np.zeros((4, 48, 48), np.float32), y=np.zeros(4, np.int8))
    _one_line_error(floats, "got float32")
    short = tmp_path / "short.npz"
    np.savez(short, x=np.zeros((4, 48, 48), np.uint8), y=np.zeros(3, np.int8))
    _one_line_error(short, "y must be integer (N,)")
    out_of_range = tmp_path / "range.npz"
    np.savez(out_of_range, x=np.zeros((2, 48, 48), np.uint8), y=np.array([0, 7], np.int8))
    _one_line_error(out_of_range, "labels must lie in 0..6")


def test_missing_array_corrupt_and_absent_files(tmp_path):
    no_y = tmp_path / "no_y.npz"
    np.savez(no_y, x=np.zeros((2, 48, 48), np.uint8))
    _one_line_error(no_y, "missing array 'y'")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a zip")
    _one_line_error(corrupt, "not a readable .npz")
    _one_line_error(tmp_path / "absent.npz", "MOODKIOSK_FER_DIR")


def test_env_var_overrides_the_shared_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MOODKIOSK_FER_DIR", str(tmp_path))
    assert default_split_path("fer2013_train.npz") == tmp_path / "fer2013_train.npz"
