"""Store display names from central's stores file (TOML), so managers read "Berlin Mitte", not "s001"."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from contract.errors import ContractError
from contract.operator_files import read_small_text
from contract.topics import validate_id
from central.errors import CentralError

MAX_NAME = 80
STORES_FILE_LIMIT = 16 << 20  # names for far more stores than a chain has


@dataclass(frozen=True)
class StoreNames:
    """Store id -> display name; an id without a name is shown as itself."""

    names: Mapping[str, str] = field(default_factory=dict)

    def name(self, store: str) -> str:
        return self.names.get(store, store)


def load_store_names(path: str | Path | None) -> StoreNames:
    """Read `[stores]` id = "name" pairs; one clear line naming the file and the entry when something is wrong.

    ```toml
    [stores]
    s001 = "Berlin Mitte"
    s002 = "Hamburg Hbf"
    ```
    """
    if path is None:
        return StoreNames()
    try:
        data = tomllib.loads(read_small_text(path, STORES_FILE_LIMIT))
    except OSError as exc:
        raise CentralError(f"stores file {path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CentralError(f"stores file {path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"stores"})
    if unknown:
        raise CentralError(f"stores file {path}: unknown section or key {unknown[0]!r}; only [stores] is read")
    table = data.get("stores", {})
    if not isinstance(table, dict):
        raise CentralError(f"stores file {path}: 'stores' must be a table of id = \"display name\"")
    names: dict[str, str] = {}
    for store, name in table.items():
        try:
            validate_id(store, "store")
        except ContractError as exc:
            raise CentralError(f"stores file {path}: {exc}") from None
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or not name.isprintable():
            raise CentralError(f"stores file {path}: name of store {store!r} must be printable text of 1-{MAX_NAME} "
                               f"characters, got {name!r}")
        names[store] = name.strip()
    return StoreNames(names)
