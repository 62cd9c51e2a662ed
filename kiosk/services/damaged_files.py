"""A kiosk SQLite file damaged by a power cut or a torn write: recognise it and set it aside, so that a
file the kiosk can rebuild (spool, offer counts, offer snapshots) never stops the kiosk from starting."""
from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from kiosk.services.private_files import SQLITE_SIDE_FILES

logger = logging.getLogger(__name__)
T = TypeVar("T")

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


def put_back(kept: Path, path: Path) -> None:
    """Undo `set_aside`: remove what was started at `path` since, and rename the kept files back (for the next
    start to try again; a spool started afresh would begin its seq again at 1, which central refuses)."""
    for side in ("", *SQLITE_SIDE_FILES):
        path.with_name(path.name + side).unlink(missing_ok=True)
        source = kept.with_name(kept.name + side)
        if source.exists():
            source.rename(path.with_name(path.name + side))


@dataclass(frozen=True)
class SetAside:
    """A damaged file that `open_or_set_aside` moved away, and the error that showed the damage."""

    kept: Path
    cause: BaseException


def open_or_set_aside(path: Path, opener: Callable[[], T]) -> tuple[T, SetAside | None]:
    """`opener()`; when it fails because the file at `path` is damaged, set the file aside and open afresh.

    If the fresh open fails too, the damaged file is put back and that error raised: nothing is lost, and the
    next start meets the same file. Any other error of `opener` is raised as it is."""
    try:
        return opener(), None
    except Exception as exc:
        if not is_damaged(exc):
            raise
        cause = exc
    kept = set_aside(path)
    try:
        opened = opener()
    except BaseException:
        put_back(kept, path)
        raise
    logger.error("%s was damaged (%s): moved to %s, started afresh", path, cause, kept)
    return opened, SetAside(kept, cause)


class IntegrityCheckFailed(sqlite3.DatabaseError):
    """SQLite's integrity check found damage in a file that opened fine: SQLITE_CORRUPT, as a query would say."""

    sqlite_errorcode = 11


def check_integrity(db: sqlite3.Connection) -> None:
    """Read the file end to end now (`PRAGMA quick_check`): a torn or scribbled file often opens fine and breaks
    only at the page a later query touches, when it can no longer be set aside. Raises IntegrityCheckFailed."""
    (verdict,) = db.execute("PRAGMA quick_check(1)").fetchone()
    if verdict != "ok":
        raise IntegrityCheckFailed(f"database disk image is malformed ({' '.join(str(verdict).split())})")
