"""The SQLite store's write lock, which also makes sure the database path still names the file central opened.

An open SQLite connection keeps writing to its file even after that file was deleted or replaced (a backup
restored with `mv backup.db central.db` while central runs): every window acknowledged from then on went into
a file nobody will open again, lost at the next restart. Taking the write lock now checks the path first; if
the file there is not the one opened, the write fails as a transient error, so the collector keeps the batch
unacknowledged and retries every second with a line that says what happened."""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Callable

log = logging.getLogger(__name__)


class FileGuardedLock:
    """A `threading.Lock` for `with` whose entry raises sqlite3.OperationalError when `path` no longer names
    the file `remember()` saw (removed, or another file renamed over it). The first time, `on_replaced` runs:
    the store checkpoints its write-ahead log into the old file and empties it, since the -wal file goes by
    name and would otherwise be replayed into the file now at the path when central next opens it."""

    def __init__(self, path: Path, on_replaced: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._path = path
        self._identity: tuple[int, int] | None = None
        self._on_replaced = on_replaced
        self._told = False

    def remember(self) -> None:
        """Record the file the store opened (call once its first connection exists)."""
        st = os.stat(self._path)
        self._identity = (st.st_dev, st.st_ino)

    def __enter__(self) -> "FileGuardedLock":
        self._lock.acquire()
        try:
            self._check()
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._lock.release()

    def _check(self) -> None:
        if self._identity is None:
            return
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            what = "removed"
        else:
            if (st.st_dev, st.st_ino) == self._identity:
                return
            what = "replaced by another file"
        if not self._told and self._on_replaced is not None:
            self._told = True
            try:
                self._on_replaced()
            except sqlite3.Error as exc:
                log.error("database %s: could not empty the old file's write-ahead log: %s", self._path, exc)
        raise sqlite3.OperationalError(
            f"database file {self._path} was {what} while central had it open; nothing is stored or acknowledged "
            "until the file is back, or restart central to use the file now at that path")
