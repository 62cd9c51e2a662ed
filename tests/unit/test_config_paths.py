"""Config paths of the wrong kind (a folder for a file, a device or a pipe, an empty path) are config problems
naming the key, found by `validate-config` and at load, not later at start under another key's name."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "kiosk.toml"
    file.write_text(f'data_dir = "{tmp_path / "data"}"\n' + text, encoding="utf-8")
    return file


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text))
    return caught.value.problems


@pytest.mark.parametrize(("section", "key", "kind"), [
    ("loyalty", "db_path", "file"), ("mqtt", "spool_path", "file"), ("mqtt", "ca_file", "file"),
    ("mqtt", "password_file", "file"), ("camera", "model_file", "file"), ("privacy", "card_hash_key_file", "file"),
    ("offers", "snapshot_dir", "folder"),
])
def test_a_path_of_the_wrong_kind_names_its_key(tmp_path: Path, section: str, key: str, kind: str) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    plain = tmp_path / "a-file"
    plain.write_text("x")
    wrong = folder if kind == "file" else plain
    assert _problems(tmp_path, f'[{section}]\n{key} = "{wrong}"\n') == [
        f"{section}.{key}: {wrong} is {'a folder' if kind == 'file' else 'a file'}, "
        f"not {'a regular file' if kind == 'file' else 'a folder'}"
    ]
    assert _problems(tmp_path, f'[{section}]\n{key} = "/dev/null"\n') == [
        f"{section}.{key}: /dev/null is a device, not {'a regular file' if kind == 'file' else 'a folder'}"
    ]
    assert _problems(tmp_path, f'[{section}]\n{key} = ""\n') == [
        f"{section}.{key}: is empty (leave the key out for its default)"
    ]


def test_data_dir_and_the_files_kept_in_it(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    file = tmp_path / "kiosk.toml"
    for value, problem in [
        ("/dev/null", "data_dir: /dev/null is a device, not a folder"),  # said once, not once per file in it
        (str(fifo), f"data_dir: {fifo} is a pipe, not a folder"),
        ("/dev/null/kiosk", "data_dir: /dev/null/kiosk lies under /dev/null, which is a device, not a folder"),
        ("", "data_dir: is empty (leave the key out for its default)"),
    ]:
        file.write_text(f'data_dir = "{value}"\n', encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_config(file)
        assert caught.value.problems == [problem]
    data = tmp_path / "data"
    (data / "spool.sqlite").mkdir(parents=True)
    file.write_text(f'data_dir = "{data}"\n[mqtt]\nspool_max_windows = 10\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(file)
    assert caught.value.problems == [
        f"mqtt.spool_path (default data_dir/spool.sqlite): {data / 'spool.sqlite'} is a folder, not a regular file"]


def test_paths_not_there_yet_are_fine(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, f'[loyalty]\ndb_path = "{tmp_path}/new/loyalty.sqlite"\n'
                                          f'[offers]\nsnapshot_dir = "{tmp_path}/snapshots"\n'))
    assert config.loyalty.db_path == tmp_path / "new" / "loyalty.sqlite"
    assert load_config(REPO / "kiosk" / "config.example.toml").store_id == "demo-store"


def test_validate_config_and_run_say_it_in_one_line(tmp_path: Path) -> None:
    file = _write(tmp_path, '[loyalty]\ndb_path = "/dev/null"\n')
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    checked = subprocess.run([sys.executable, "-m", "kiosk", "validate-config", str(file)], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 1 and "loyalty.db_path: /dev/null is a device, not a regular file" in checked.stdout
    run = subprocess.run([sys.executable, "-m", "kiosk", "run", "--config", str(file), "--no-camera", "--duration", "1"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].endswith("loyalty.db_path: /dev/null is a device, not a regular file")


def test_a_card_hash_key_too_short_is_a_config_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `CardHasher` raised ValueError at start (a traceback) and validate-config said OK."""
    file = _write(tmp_path, "")
    monkeypatch.setenv("MOODKIOSK_CARD_HASH_KEY", "short")
    assert _problems(tmp_path, "") == [
        "$MOODKIOSK_CARD_HASH_KEY: the card hash key must be at least 16 bytes, got 5 (e.g. `openssl rand -hex 32`)"]
    monkeypatch.delenv("MOODKIOSK_CARD_HASH_KEY")
    key = tmp_path / "card.key"
    key.write_text("0123456789\n", encoding="utf-8")
    assert _problems(tmp_path, f'[privacy]\ncard_hash_key_file = "{key}"\n') == [
        f"privacy.card_hash_key_file ({key}): the card hash key must be at least 16 bytes, got 10 "
        "(e.g. `openssl rand -hex 32`)"]
    generated = tmp_path / "data" / "card_hash.key"  # the kiosk's own key, cut short by a power cut
    generated.parent.mkdir()
    generated.write_bytes(b"abc")
    file = _write(tmp_path, "")
    with pytest.raises(ConfigError, match="holds 3 bytes, a card hash key needs at least 16"):
        load_config(file).card_hash_key()
    run = subprocess.run([sys.executable, "-m", "kiosk", "run", "--config", str(file), "--no-camera", "--duration", "1"],
                         cwd=REPO, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "holds 3 bytes" in run.stderr.strip().splitlines()[-1]
