"""A kiosk SQLite file damaged by a power cut or a torn write: recognise it and set it aside, so that a
file the kiosk can rebuild (spool, offer counts, offer snapshots) never stops the kiosk from starting."""
from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from kiosk.services.private_files import SQLITE_SIDE_FILES

logger = logging.getLogger(__name__)

# SQLite's primary result codes for a broken file: SQLITE_CORRUPT, SQLITE_NOTADB.
_DAMAGED_CODES = frozenset({11, 26})


def is_damaged(exc: BaseException | None) -> bool:
    """The file itself is broken (not the path, the disk, a lock); also when `exc` wraps such an error."""
    while exc is not None:
        if isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _DAMAGED_CODES:
            return True
        exc = exc.__cause__
    return False


def set_aside(path: Path) -> Path:
    """Rename the database and its WAL / SHM / journal to `<name>.damaged-<UTC time>[-wal ...]`, kept for a
    person to look at; returns the new name of the database. Raises OSError if it cannot be renamed."""
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    for side in ("", *SQLITE_SIDE_FILES):
        source = path.with_name(path.name + side)
        if source.exists():
            source.rename(target.with_name(target.name + side))
    return target
