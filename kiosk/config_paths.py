"""The kinds of the paths a kiosk config names: a folder where a folder is meant, a regular file where a file is.

The schema only checks that a path is a string; a `data_dir` that is `/dev/null`, a `loyalty.db_path` that is
a directory or an empty path (which would mean "the working directory") passed `validate-config` and failed
later at start, naming the wrong key. A path that does not exist yet is fine where the kiosk creates it
(data files, folders) and for the expression model (the kiosk then runs without mood and says so)."""
from __future__ import annotations

import enum
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator


class PathKind(enum.Enum):
    """What a configured path must be once it exists."""

    FOLDER = "a folder"
    FILE = "a regular file"


@dataclass(frozen=True)
class ConfiguredPath:
    """One path key of the config: its dotted name, the path, and what it must be."""

    key: str
    path: Path
    kind: PathKind


# (section, key, kind); () is the top level. The same keys `kiosk.config` resolves relative to the file.
PATH_KEYS: tuple[tuple[tuple[str, ...], str, PathKind], ...] = (
    ((), "data_dir", PathKind.FOLDER),
    (("privacy",), "card_hash_key_file", PathKind.FILE),
    (("camera",), "model_file", PathKind.FILE),
    (("loyalty",), "db_path", PathKind.FILE),
    (("offers",), "snapshot_dir", PathKind.FOLDER),
    (("mqtt",), "password_file", PathKind.FILE),
    (("mqtt",), "ca_file", PathKind.FILE),
    (("mqtt",), "spool_path", PathKind.FILE),
)


def raw_path_entries(data: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str, str]]:
    """(section mapping, key, dotted key) of every path key present in a raw TOML mapping, in PATH_KEYS order."""
    for section_path, key, _ in PATH_KEYS:
        section: Any = data
        for part in section_path:
            section = section.get(part) if isinstance(section, dict) else None
        if isinstance(section, dict) and key in section:
            yield section, key, ".".join((*section_path, key))


def empty_path_keys(data: dict[str, Any]) -> list[str]:
    """Keys of the raw TOML mapping whose path is an empty string (Path("") is the working directory)."""
    return [dotted for section, key, dotted in raw_path_entries(data)
            if isinstance(section[key], str) and not section[key].strip()]


def configured_paths(config: Any) -> Iterator[ConfiguredPath]:
    """Every path the (validated) config sets, with the kind it must have, and the files the kiosk keeps in
    data_dir by default (named by the key that would move them)."""
    for section_path, key, kind in PATH_KEYS:
        section = config
        for part in section_path:
            section = getattr(section, part)
        value = getattr(section, key)
        if value is not None:
            yield ConfiguredPath(".".join((*section_path, key)), Path(value), kind)
    defaults = [("loyalty.db_path", config.loyalty.db_path, config.loyalty_db_path),  # (key, set, used)
                ("mqtt.spool_path", config.mqtt.spool_path, config.spool_path),
                ("data_dir", None, config.offer_snapshots_path), ("data_dir", None, config.offer_stats_path),
                ("data_dir", config.privacy.card_hash_key_file, config.generated_key_path)]
    for key, set_path, used in defaults:
        if set_path is None:  # the file the kiosk keeps in data_dir, named by the key that would move it
            yield ConfiguredPath(f"{key} (default data_dir/{used.name})" if key != "data_dir" else
                                 f"data_dir (its {used.name})", used, PathKind.FILE)


def path_problem(item: ConfiguredPath) -> str | None:
    """One line naming the key and what is wrong with its path, or None when it is usable (or not there yet)."""
    try:
        mode = os.stat(item.path).st_mode
    except FileNotFoundError:
        return _missing_parent(item)
    except NotADirectoryError:
        return _missing_parent(item)
    except OSError as exc:
        return f"{item.key}: cannot look at {item.path}: {exc.strerror or exc}"
    if item.kind is PathKind.FOLDER and not stat.S_ISDIR(mode):
        return f"{item.key}: {item.path} is {_describe(mode)}, not a folder"
    if item.kind is PathKind.FILE and not stat.S_ISREG(mode):
        return f"{item.key}: {item.path} is {_describe(mode)}, not a regular file"
    return None


def path_problems(config: Any, skip: tuple[str, ...] = ()) -> list[str]:
    """Every path problem of a validated config, one line each (a bad data_dir once, not once per file in it);
    `skip`: keys already reported (an empty path)."""
    problems: list[str] = []
    data_dir_bad = False
    for item in configured_paths(config):
        if item.key in skip or (data_dir_bad and "data_dir" in item.key):
            continue
        problem = path_problem(item)
        if problem is not None:
            problems.append(problem)
            data_dir_bad = data_dir_bad or item.key == "data_dir"
    return problems


def _missing_parent(item: ConfiguredPath) -> str | None:
    """A path that does not exist yet is fine if the nearest existing folder above it is a folder."""
    for parent in item.path.parents:
        try:
            mode = os.stat(parent).st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            return f"{item.key}: cannot look at {parent}: {exc.strerror or exc}"
        if not stat.S_ISDIR(mode):
            return f"{item.key}: {item.path} lies under {parent}, which is {_describe(mode)}, not a folder"
        return None
    return None


def _describe(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode):
        return "a file"
    return "not a file or folder"
