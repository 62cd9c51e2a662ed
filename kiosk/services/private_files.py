"""Kiosk files that only the kiosk's user may read: folder 0700, files 0600, whatever the umask.

The loyalty database holds customers' purchase histories and the spool the unsent windows; a default umask
(022) would make both world-readable."""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

logger = logging.getLogger(__name__)
_SAID_OPEN: set[Path] = set()


def private_folder(path: Path) -> Path:
    """Create `path` (and parents), the folder itself 0700 whatever the umask.

    A folder that already exists keeps its mode: it may be the system's or the operator's (`/`, `/tmp`, a
    home folder named as data_dir or as an export folder), and changing it would break the machine; the files
    the kiosk writes in it are 0600 all the same. One that others may enter is said once in the log."""
    try:
        path.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        if not path.is_dir():
            raise
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077 and path not in _SAID_OPEN:
            _SAID_OPEN.add(path)
            logger.warning("%s can be entered by other users (mode %o); the kiosk's files in it are 0600, "
                           "make the folder 0700 to hide their names too", path, mode)
        return path
    os.chmod(path, 0o700)  # mkdir's mode passes through the umask
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
