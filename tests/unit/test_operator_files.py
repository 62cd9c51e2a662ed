"""Operator files (config, keys, passwords, users, stores, alerts) are read bounded: a wrong path gives one line."""
from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contract.operator_files import bounded_lines, read_small_file, read_small_text
from kiosk.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_regular_file_is_read_whole_and_a_bom_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_bytes(b"\xef\xbb\xbfstore_id = \"s1\"\n")
    assert read_small_file(path) == b"\xef\xbb\xbfstore_id = \"s1\"\n"
    assert read_small_text(path) == 'store_id = "s1"\n'
    path.write_bytes(b"x" * 4096)
    assert read_small_file(path, limit=4096) == b"x" * 4096  # exactly the limit is fine


def test_too_big_a_device_a_directory_and_bad_bytes_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 4097)
    with pytest.raises(OSError) as caught:
        read_small_file(big, limit=4096)
    assert caught.value.errno == errno.EFBIG and "larger than 4 KiB" in caught.value.strerror
    with pytest.raises(OSError, match="not a regular file"):
        read_small_file("/dev/zero")  # never ends: must not be read at all
    with pytest.raises(IsADirectoryError):
        read_small_file(tmp_path)
    latin = tmp_path / "latin1"
    latin.write_bytes("Caf\xe9".encode("latin-1"))
    with pytest.raises(OSError, match="not UTF-8 text"):
        read_small_text(latin)


def test_a_fifo_without_a_writer_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(OSError, match="not a regular file"):
        read_small_file(fifo)
    assert time.monotonic() - started < 5


def test_validate_config_on_a_device_or_a_fifo_says_so_in_one_line(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["validate-config", "/dev/zero"]) == 1
    assert "cannot read the file: not a regular file" in capsys.readouterr().out
    fifo = tmp_path / "kiosk.toml"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "kiosk", "validate-config", str(fifo)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "not a regular file" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_secret_file_with_bad_bytes_names_the_key(tmp_path: Path) -> None:
    from kiosk.config import ConfigError, parse_config

    key = tmp_path / "key"
    key.write_bytes(b"\xff\xfe" * 20)
    config = parse_config({"privacy": {"card_hash_key_env": "C1_UNSET_KEY", "card_hash_key_file": str(key)}})
    with pytest.raises(ConfigError, match=r"privacy.card_hash_key_file: cannot read .*not UTF-8"):
        config.card_hash_key()


def test_bounded_lines_takes_lines_up_to_the_limit_and_refuses_a_longer_one() -> None:
    text = "a" * 8 + "\n" + "b" * 7 + "\r\n" + "c" * 8
    assert list(bounded_lines(io.StringIO(text, newline=""), limit=8)) == ["a" * 8 + "\n", "b" * 7 + "\r\n", "c" * 8]
    with pytest.raises(OSError, match="line 2 is longer than 8 characters"):
        list(bounded_lines(io.StringIO("a\n" + "b" * 9 + "\n"), limit=8))


def test_first_non_utf8_names_line_column_and_byte(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from contract.operator_files import first_non_utf8

    path = tmp_path / "f.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\r\nc\xc3\xa9,d\na,\xe9\n")
    assert first_non_utf8(path) == "line 3, column 3: byte 0xE9"
    path.write_bytes(("\u00e9" * 10 + "\n").encode() + b"ab\xff\n")  # characters across the blocks are fine
    assert first_non_utf8(path, block=5) == "line 2, column 3: byte 0xFF"
