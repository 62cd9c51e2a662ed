"""`moodkiosk central-backup --db URL FILE`: a consistent copy of the central SQLite database while it runs.

SQLite's online backup API copies the pages under its own locking, so the collector keeps writing; the copy
is written beside FILE, checked with `PRAGMA integrity_check`, and only then renamed over FILE. PostgreSQL
is backed up with its own `pg_dump` (see docs/INSTALL.md); this command says so instead of guessing.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from central.errors import CentralError
from central.store import sqlite_path
from contract.operator_files import require_regular_file

PAGES_PER_STEP = 1024  # copy in steps so the collector's writes are not held up for the whole copy


@dataclass(frozen=True)
class BackupResult:
    target: Path
    bytes: int
    windows: int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="sqlite:///var/central.db", help="the database `moodkiosk central` uses")
    parser.add_argument("target", help="backup file to write (replaced only once the new copy checks out)")


def main(args: argparse.Namespace) -> int:
    result = backup_sqlite(args.db, Path(args.target))
    print(f"backed up {result.windows} windows ({result.bytes / 1e6:.1f} MB) to {result.target}")
    return 0


def _refuse_live_files(source: Path, target: Path) -> None:
    """The copy is renamed over FILE: over the database itself or its -wal/-shm/-journal, while central has them
    open, that unlinks a database in use (SQLite's "how to corrupt" list: the writer keeps the old inode, new
    connections open the copy, locks no longer meet)."""
    live = source.resolve()
    aimed = target.resolve()
    for suffix in ("", "-wal", "-shm", "-journal"):
        twin = live.with_name(live.name + suffix)
        if aimed == twin or (twin.exists() and aimed.exists() and os.path.samefile(aimed, twin)):
            raise CentralError(f"backup file {target} is the live database{' file ' + suffix if suffix else ''} "
                               f"{source}; write the backup to another file")


def _refuse_other_kinds(target: Path) -> None:
    """FILE is replaced by rename: only a regular file (or nothing) may be there. A FIFO or socket someone
    listens on would silently become a plain file, a device node (`/dev/null`, run as root) be replaced."""
    try:
        require_regular_file(target)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CentralError(f"backup file {target}: {exc.strerror or exc}; name a file") from None


def backup_sqlite(url: str, target: Path) -> BackupResult:
    if url.startswith(("postgresql://", "postgres://")):
        raise CentralError("--db is PostgreSQL: back it up with pg_dump (docs/INSTALL.md, 'Backups'), e.g. "
                           "pg_dump --format=custom --file central.dump \"service=moodkiosk\"")
    source = Path(sqlite_path(url))
    if not source.is_file():
        raise CentralError(f"--db {url}: {source} does not exist")
    if not target.parent.is_dir():
        raise CentralError(f"backup file {target}: folder {target.parent} does not exist")
    _refuse_live_files(source, target)
    _refuse_other_kinds(target)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst, pages=PAGES_PER_STEP)
                check = dst.execute("PRAGMA integrity_check").fetchone()[0]
                windows = dst.execute("SELECT count(*) FROM windows").fetchone()[0]
            finally:
                dst.close()
        finally:
            src.close()
        if check != "ok":
            raise CentralError(f"backup of {source}: the copy fails its integrity check ({check}); the old backup is kept")
        os.replace(partial, target)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise CentralError(f"backup of {source} to {target}: {exc}") from exc
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CentralError(f"backup file {target}: {exc.strerror or exc}") from exc
    return BackupResult(target, target.stat().st_size, int(windows))
