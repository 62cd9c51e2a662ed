"""The package layering, checked on the source (an AST walk, nothing imported): Qt stays in the kiosk UI and
app, the server and the pipeline never reach into the kiosk, vision never loads the training package, and the
MQTT contract stays a plain-Python library that any side can install."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("kiosk", "vision", "central", "contract", "models", "devtools")
# Where Qt may be imported: the kiosk's UI package and the app that starts it.
QT_ALLOWED = ("kiosk/ui/", "kiosk/app.py", "devtools/")
# The one standing exception (not yet moved into a shared package): the chain-wide offers-build runs the
# kiosk's own offer engine so both rank alike. Only these modules, only from central/offers_build/.
OFFERS_BUILD = "central/offers_build/"
OFFERS_BUILD_MAY_IMPORT = frozenset({
    "kiosk.services.cards", "kiosk.services.loyalty", "kiosk.services.loyalty_csv", "kiosk.services.records",
    "kiosk.services.offer_snapshot",
    "kiosk.services.ranked_engine", "kiosk.services.offer_ranking_model", "kiosk.services.offer_ranker",
    "kiosk.services.offer_features", "kiosk.services.purchase_log", "kiosk.services.offer_training",
})
# What contract may import besides itself: the standard library and its schema validators.
CONTRACT_THIRD_PARTY = {"jsonschema", "fastjsonschema"}


@dataclass(frozen=True)
class Import:
    """One imported top-level package, where it is imported."""

    path: str
    line: int
    module: str

    @property
    def package(self) -> str:
        return self.module.split(".")[0]


def imports_of(path: Path) -> list[Import]:
    """Every absolute import in the file, module level or inside functions (lazy imports count too)."""
    relative = path.relative_to(ROOT).as_posix()
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=relative)):
        if isinstance(node, ast.Import):
            found += [Import(relative, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(Import(relative, node.lineno, node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append(Import(relative, node.lineno, node.args[0].value))
    return found


def package_imports(package: str) -> list[Import]:
    return [imp for path in sorted((ROOT / package).rglob("*.py")) for imp in imports_of(path)]


def violations(package: str, forbidden: set[str], allowed_paths: tuple[str, ...] = ()) -> list[str]:
    return [
        f"{imp.path}:{imp.line} imports {imp.package}"
        for imp in package_imports(package)
        if imp.package in forbidden and not imp.path.startswith(allowed_paths)
    ]


@pytest.mark.parametrize("package", RUNTIME)
def test_qt_only_in_the_kiosk_ui_and_app(package: str) -> None:
    assert violations(package, {"PySide6", "shiboken6"}, QT_ALLOWED) == []


@pytest.mark.parametrize("package", ["central", "vision", "contract"])
def test_server_pipeline_and_contract_never_import_the_kiosk(package: str) -> None:
    found = [
        f"{imp.path}:{imp.line} imports {imp.module}"
        for imp in package_imports(package)
        if imp.package == "kiosk" and not (imp.path.startswith(OFFERS_BUILD) and imp.module in OFFERS_BUILD_MAY_IMPORT)
    ]
    assert found == []


def test_the_kiosk_modules_offers_build_shares_are_qt_free() -> None:
    for module in OFFERS_BUILD_MAY_IMPORT:
        path = ROOT / (module.replace(".", "/") + ".py")
        assert [i.module for i in imports_of(path) if i.package in {"PySide6", "shiboken6", "mediapipe", "cv2"}] == []


def test_vision_never_imports_the_training_package() -> None:
    assert violations("vision", {"models"}) == []


def test_contract_imports_only_the_standard_library_and_its_schema_libraries() -> None:
    allowed = set(sys.stdlib_module_names) | CONTRACT_THIRD_PARTY | {"contract"}
    assert [f"{i.path}:{i.line} imports {i.package}" for i in package_imports("contract") if i.package not in allowed] == []


def test_the_walk_sees_lazy_and_dynamic_imports(tmp_path: Path) -> None:
    """The checks above can fail: a function-level import and an import_module call are both found."""
    probe = ROOT / "tests" / "unit" / "_architecture_probe.py"
    probe.write_text(
        "import importlib\n\ndef f():\n    from PySide6.QtCore import QObject\n    importlib.import_module('kiosk.cli')\n",
        encoding="utf-8",
    )
    try:
        found = {(imp.line, imp.package) for imp in imports_of(probe)}
    finally:
        probe.unlink()
    assert {(4, "PySide6"), (5, "kiosk")} <= found


# The kiosk extra: camera, model, screen and card-reader libraries the central server must not need.
KIOSK_ONLY = {"PySide6", "shiboken6", "cv2", "mediapipe", "onnxruntime", "serial", "segno", "linuxpy", "psutil"}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].strip().lower() for req in requirements}


def test_installing_central_pulls_in_neither_qt_nor_mediapipe() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    central = _requirement_names(project["dependencies"] + project["optional-dependencies"]["central"])
    kiosk = _requirement_names(project["optional-dependencies"]["kiosk"])
    assert {"pyside6-essentials", "mediapipe", "opencv-contrib-python", "onnxruntime"} <= kiosk
    assert central & {"pyside6", "pyside6-essentials", "mediapipe", "opencv-contrib-python", "onnxruntime"} == set()


def test_central_imports_nothing_from_the_kiosk_extra() -> None:
    shared = [ROOT / (module.replace(".", "/") + ".py") for module in OFFERS_BUILD_MAY_IMPORT]
    found = [f"{i.path}:{i.line} imports {i.module}" for i in package_imports("central") if i.package in KIOSK_ONLY]
    found += [f"{i.path}:{i.line} imports {i.module}" for path in shared for i in imports_of(path) if i.package in KIOSK_ONLY]
    assert found == []
