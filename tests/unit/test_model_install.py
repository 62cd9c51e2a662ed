"""`moodkiosk model install / rollback`: only a file with the right checksum that the kiosk's runtime can load
and run becomes current; the previous one stays for rollback; the kiosk loads `current.onnx` at start."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from kiosk.app import vision_settings
from kiosk.config import parse_config
from kiosk.services import model_store
from vision.expression import ExpressionClassifier
from vision.settings import DEFAULT_EXPRESSION_MODEL

REPO = Path(__file__).resolve().parents[2]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def retagged(tmp_path: Path, version: str) -> Path:
    """The shipped model with another version in its metadata contract: a second valid model."""
    model = onnx.load(str(DEFAULT_EXPRESSION_MODEL))
    for prop in model.metadata_props:
        if prop.key == "version":
            prop.value = version
    path = tmp_path / f"expression-{version}.onnx"
    onnx.save(model, str(path))
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", "model", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO)


def test_install_checks_keeps_the_previous_and_rolls_back(tmp_path):
    folder = tmp_path / "models"
    first, second = retagged(tmp_path, "9.0.1"), retagged(tmp_path, "9.0.2")
    (tmp_path / f"{second.name}.sha256").write_text(f"{sha(second)}  {second.name}\n")

    result = cli("install", str(first), "--sha256", sha(first), "--dir", str(folder))
    assert result.returncode == 0, result.stderr
    assert ExpressionClassifier(folder / "current.onnx").version == "9.0.1"
    result = cli("install", str(second), "--dir", str(folder))  # checksum from the .sha256 file beside it
    assert result.returncode == 0, result.stderr
    assert ExpressionClassifier(folder / "current.onnx").version == "9.0.2"
    assert ExpressionClassifier(folder / "previous.onnx").version == "9.0.1"

    result = cli("rollback", "--dir", str(folder))
    assert result.returncode == 0 and ExpressionClassifier(folder / "current.onnx").version == "9.0.1"
    assert ExpressionClassifier(folder / "previous.onnx").version == "9.0.2"

    # the kiosk uses it after a restart: [camera] model_file reaches the vision pipeline
    config = parse_config({"camera": {"model_file": "models/current.onnx"}}, "test", base_dir=tmp_path)
    assert vision_settings(config).expression_model == folder / "current.onnx"


@pytest.mark.parametrize("case", ["wrong-checksum", "no-checksum", "huge-checksum-file", "not-a-model", "no-contract"])
def test_a_bad_file_is_refused_in_one_line_and_changes_nothing(tmp_path, case):
    folder = tmp_path / "models"
    good = retagged(tmp_path, "9.1.0")
    model_store.install(good, folder, sha(good))
    before = sorted(p.name for p in folder.iterdir())
    bad = tmp_path / "new.onnx"
    checksum: str | None = None
    if case == "wrong-checksum":
        bad.write_bytes(good.read_bytes())
        checksum, expected = "0" * 64, "does not match the expected"
    elif case == "no-checksum":
        bad.write_bytes(good.read_bytes())
        expected = "no checksum; pass --sha256"
    elif case == "huge-checksum-file":  # read whole before; now refused past 64 KiB
        bad.write_bytes(good.read_bytes())
        (tmp_path / "new.onnx.sha256").write_text(sha(bad) + " " * (2 << 20))
        expected = "checksum file new.onnx.sha256:"
    elif case == "not-a-model":
        bad.write_bytes(b"\x08\x07garbage" * 1000)
        checksum, expected = None, "refused"
    else:
        model = onnx.load(str(DEFAULT_EXPRESSION_MODEL))
        del model.metadata_props[:]
        onnx.save(model, str(bad))
        expected = "no metadata contract"
    if case in ("not-a-model", "no-contract"):
        checksum = sha(bad)
    args = ["install", str(bad), "--dir", str(folder)] + (["--sha256", checksum] if checksum else [])
    result = cli(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("moodkiosk model: error: ") and expected in lines[-1], lines
    assert sorted(p.name for p in folder.iterdir()) == before
    assert ExpressionClassifier(folder / "current.onnx").version == "9.1.0"
