"""Kiosk files are private (0700 folder, 0600 database) and SQLite's in-memory name never becomes a file."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kiosk.services.loyalty import LoyaltyStore
from kiosk.services.private_files import private_sqlite


def test_database_and_folder_are_private_whatever_the_umask(tmp_path: Path) -> None:
    path = private_sqlite(tmp_path / "data" / "x.sqlite")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_in_memory_store_leaves_no_file_named_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with LoyaltyStore(":memory:") as store:
        assert store.find_customer("0000000000000") is None
    assert list(tmp_path.iterdir()) == []
