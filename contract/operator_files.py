"""Files an operator points a service at: small ones (config, keys, passwords, users, stores) read bounded,
data files (CSV exports, snapshots) checked to be regular files before they are streamed.

A wrong path must give one line, not a hang or an out-of-memory kill: /dev/zero never ends, a log file is
huge, and opening a FIFO without a writer blocks for ever. Errors are `OSError`s with a readable `strerror`, so
callers report them like any unreadable file.
"""
from __future__ import annotations

import errno
import os
import stat
from typing import Iterator, TextIO

SMALL_FILE_LIMIT = 1 << 20  # 1 MiB: far above any config, key or users file
LINE_LIMIT = 1 << 16  # characters in one line of a data file (a CSV row, a snapshot line)


def _refuse_unless_regular(mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory")
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, "not a regular file (a device, pipe or socket)")


def require_regular_file(path: str | os.PathLike[str]) -> None:
    """Raise OSError unless `path` is a regular file (stat only: a FIFO is not opened)."""
    _refuse_unless_regular(os.stat(path).st_mode)


def read_small_file(path: str | os.PathLike[str], limit: int = SMALL_FILE_LIMIT) -> bytes:
    """The whole content of a regular file of at most `limit` bytes; OSError otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))  # NONBLOCK: a FIFO must not hang
    try:
        _refuse_unless_regular(os.fstat(fd).st_mode)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit // 1024} KiB; not a file this setting takes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_small_text(path: str | os.PathLike[str], limit: int = SMALL_FILE_LIMIT) -> str:
    """`read_small_file` decoded as UTF-8 (a byte-order mark is dropped); bad bytes are an OSError too."""
    raw = read_small_file(path, limit)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OSError(errno.EILSEQ, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def bounded_lines(handle: TextIO, limit: int = LINE_LIMIT) -> Iterator[str]:
    """The lines of a text file (for `csv.reader`), refusing one longer than `limit` characters instead of
    reading a file without line breaks into memory whole."""
    for number, line in enumerate(iter(lambda: handle.readline(limit + 1), ""), start=1):
        if len(line) > limit and not line.endswith("\n"):  # `limit` characters and its line break are fine
            raise OSError(errno.EFBIG, f"line {number} is longer than {limit} characters; not a CSV export")
        yield line


def first_non_utf8(path: str | os.PathLike[str], block: int = 1 << 16) -> str:
    """Where a file that failed to decode as UTF-8 first breaks, as 'line N, column M: byte 0xXX'.

    Why a second pass: a text handle decodes ahead in blocks, so its error cannot say which of 10,000 rows to
    fix (a spreadsheet saved as Latin-1 or UTF-16). Read in blocks; a character cut by a block's end is carried."""
    line, column, carry, first = 1, 1, b"", True
    with open(path, "rb") as handle:
        while True:
            data = handle.read(block)
            chunk = carry + data
            if first:
                chunk, first = chunk.removeprefix(b"\xef\xbb\xbf"), False
            try:
                text, carry = chunk.decode("utf-8"), b""
            except UnicodeDecodeError as exc:
                good = chunk[:exc.start].decode("utf-8")
                if data and exc.reason == "unexpected end of data":  # the rest of it is in the next block
                    text, carry = good, chunk[exc.start:]
                else:
                    line += good.count("\n")
                    column = len(good) - good.rfind("\n") if "\n" in good else column + len(good)
                    return f"line {line}, column {column}: byte 0x{chunk[exc.start]:02X}"
            line += text.count("\n")
            column = len(text) - text.rfind("\n") if "\n" in text else column + len(text)
            if not data:
                return "a byte"  # pragma: no cover - the file decodes (changed since it failed)
