"""Kiosk files that only the kiosk's user may read: folder 0700, files 0600, whatever the umask.

The loyalty database holds customers' purchase histories and the spool the unsent windows; a default umask
(022) would make both world-readable."""
from __future__ import annotations

import os
from pathlib import Path

SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_folder(path: Path) -> Path:
    """Create `path` (and parents) and make it 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def private_sqlite(path: Path) -> Path:
    """Before sqlite3.connect: the folder 0700, the database file created 0600 (SQLite gives its WAL and
    shared-memory files the database's mode); files left by an older version are tightened too. SQLite's
    in-memory name `:memory:` is no file: nothing is created for it."""
    if str(path) == ":memory:":
        return path
    private_folder(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for candidate in (path, *(path.with_name(path.name + side) for side in SQLITE_SIDE_FILES)):
        if candidate.exists():
            os.chmod(candidate, 0o600)
    return path
