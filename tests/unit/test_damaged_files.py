"""A damaged kiosk SQLite file is set aside and opened afresh; if the fresh open fails, the file goes back."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kiosk.services.damaged_files import check_integrity, open_or_set_aside


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    try:
        db.execute("CREATE TABLE IF NOT EXISTS t (x)")
        check_integrity(db)
    except BaseException:
        db.close()
        raise
    return db


def test_a_damaged_file_is_set_aside_and_a_fresh_one_opened(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    db, aside = open_or_set_aside(path, lambda: _open(path))
    db.close()
    assert aside is not None and aside.kept.read_bytes().startswith(b"not a database")
    assert path.read_bytes().startswith(b"SQLite format 3")


def test_a_sound_file_is_opened_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    _open(path).close()
    db, aside = open_or_set_aside(path, lambda: _open(path))
    db.close()
    assert aside is None and [p.name for p in tmp_path.iterdir()] == ["x.sqlite"]


def test_when_the_fresh_open_fails_too_the_damaged_file_goes_back(tmp_path: Path) -> None:
    """Before, a spool set aside and then not replaced (disk full) stayed aside: the next start made a fresh
    spool whose seq began again at 1, and central refused the kiosk's windows as replays."""
    path = tmp_path / "x.sqlite"
    damaged = b"not a database at all" * 100
    path.write_bytes(damaged)
    calls = []

    def opener() -> sqlite3.Connection:
        calls.append(1)
        if len(calls) == 2:  # the fresh file: created, then the disk is full
            sqlite3.connect(path).execute("CREATE TABLE t (x)")
            raise OSError(28, "No space left on device")
        return _open(path)

    with pytest.raises(OSError, match="No space"):
        open_or_set_aside(path, opener)
    assert path.read_bytes() == damaged and [p.name for p in tmp_path.iterdir()] == ["x.sqlite"]


def test_other_errors_are_not_taken_for_damage(tmp_path: Path) -> None:
    folder = tmp_path / "folder.sqlite"
    folder.mkdir()
    with pytest.raises(sqlite3.OperationalError):
        open_or_set_aside(folder, lambda: _open(folder))
    assert folder.is_dir() and list(tmp_path.iterdir()) == [folder]
