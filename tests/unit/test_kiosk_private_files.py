"""Kiosk files are private (0700 folder, 0600 database) and SQLite's in-memory name never becomes a file."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kiosk.services.loyalty import LoyaltyStore
from kiosk.services.private_files import private_folder, private_sqlite


def test_database_and_folder_are_private_whatever_the_umask(tmp_path: Path) -> None:
    path = private_sqlite(tmp_path / "data" / "x.sqlite")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_folder_that_exists_keeps_its_mode(tmp_path: Path) -> None:
    """`/tmp`, `/` or a home folder named as the data folder must not become 0700 (it did: any existing folder
    was chmod-ed); the kiosk's own files in it are still 0600."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    path = private_sqlite(shared / "x.sqlite")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777 and stat.S_IMODE(path.stat().st_mode) == 0o600
    new = private_folder(shared / "a" / "b")
    assert stat.S_IMODE(new.stat().st_mode) == 0o700 and stat.S_IMODE(shared.stat().st_mode) == 0o1777
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError):
        private_folder(tmp_path / "file")


def test_an_in_memory_store_leaves_no_file_named_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with LoyaltyStore(":memory:") as store:
        assert store.find_customer("0000000000000") is None
    assert list(tmp_path.iterdir()) == []
