"""A test defined twice under one name runs only once: the later definition silently replaces the earlier."""
from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _repeated_names(body: list[ast.stmt], where: str) -> list[str]:
    defined = Counter(node.name for node in body
                      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    found = [f"{where}: {name} defined {count} times" for name, count in defined.items() if count > 1]
    for node in body:
        if isinstance(node, ast.ClassDef):
            found += _repeated_names(node.body, f"{where}::{node.name}")
    return found


def test_no_test_module_defines_a_name_twice() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        found += _repeated_names(ast.parse(path.read_text(encoding="utf-8")).body, str(path.relative_to(TESTS)))
    assert found == []


def test_the_check_sees_a_shadowed_test() -> None:
    source = "def test_a():\n    pass\n\nclass TestB:\n    def test_c(self):\n        pass\n    def test_c(self):\n        pass\n\ndef test_a():\n    pass\n"
    assert _repeated_names(ast.parse(source).body, "m") == ["m: test_a defined 2 times", "m::TestB: test_c defined 2 times"]
