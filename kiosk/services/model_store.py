"""The kiosk's installed expression models: a folder of checked model files, `current.onnx` and `previous.onnx`.

`install` accepts a file only when its checksum matches what the publisher gave and the kiosk's own runtime
loads it, honours its metadata contract and classifies a face crop of the contract's size; the file is then
copied in under a name with its version and checksum, and the two links are swapped atomically
(`previous` <- old `current`). The kiosk reads `current.onnx` at start ([camera] model_file), so a restart
picks the new model up, and `rollback` swaps the links back.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from contract.operator_files import read_small_text
from kiosk.errors import KioskError

CURRENT = "current.onnx"
PREVIOUS = "previous.onnx"


class ModelInstallError(KioskError):
    """A model file is refused or the model folder cannot be changed; the message says which and why."""


@dataclass(frozen=True)
class InstalledModel:
    path: Path  # the file inside the model folder
    version: str
    sha256: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expected_checksum(model: Path, given: str | None) -> str:
    """The publisher's SHA-256: `--sha256`, else the first word of MODEL.sha256 (sha256sum's format)."""
    text = given
    if text is None:
        sidecar = model.with_name(model.name + ".sha256")
        if not sidecar.is_file():
            raise ModelInstallError(f"model {model}: no checksum; pass --sha256 HEX (from the model's publisher) or "
                                    f"put {sidecar.name} (sha256sum output) beside it")
        try:  # sha256sum's line is ~80 bytes: a sidecar of megabytes (or a FIFO) is not read whole
            text = (read_small_text(sidecar, limit=64 * 1024).split() or [""])[0]
        except OSError as exc:
            raise ModelInstallError(f"model {model}: checksum file {sidecar.name}: {exc.strerror or exc}") from exc
    text = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise ModelInstallError(f"model {model}: checksum {text[:70]!r} is not a SHA-256 (64 hex digits)")
    return text


def check_model(model: Path) -> str:
    """Load the file the way the kiosk does and run one crop through it; returns its version."""
    import numpy as np

    from vision.expression import ExpressionClassifier, ExpressionModelError

    try:
        classifier = ExpressionClassifier(model)
    except ExpressionModelError as exc:
        raise ModelInstallError(f"model {model} refused: {exc}") from exc
    size = classifier.input_size
    try:
        probabilities = classifier.classify(np.zeros((1, size, size), np.uint8))
    except Exception as exc:  # onnxruntime's own errors when the graph does not run on a crop of the contract's size
        raise ModelInstallError(f"model {model} refused: it does not run on a {size} px crop ({exc})") from exc
    if probabilities.shape != (1, len(classifier.classes)) or not np.all(np.isfinite(probabilities)):
        raise ModelInstallError(f"model {model} refused: output {probabilities.shape} does not match its "
                                f"{len(classifier.classes)} classes")
    return classifier.version


def install(model: Path, folder: Path, checksum: str | None) -> InstalledModel:
    if not model.is_file():
        raise ModelInstallError(f"model {model}: no such file")
    expected = expected_checksum(model, checksum)
    actual = sha256_of(model)
    if actual != expected:
        raise ModelInstallError(f"model {model}: SHA-256 {actual} does not match the expected {expected} "
                                "(damaged or not the published file); nothing changed")
    version = check_model(model)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        safe_version = re.sub(r"[^A-Za-z0-9._-]", "_", version)[:40]
        target = folder / f"expression-{safe_version}-{actual[:12]}.onnx"
        if not target.exists():
            partial = folder / f".{target.name}.partial"
            shutil.copyfile(model, partial)
            if sha256_of(partial) != actual:
                partial.unlink()
                raise ModelInstallError(f"model folder {folder}: the copy of {model} came out different; nothing changed")
            os.replace(partial, target)
        current = current_model(folder)
        if current is not None and current.resolve() == target.resolve():
            return InstalledModel(target, version, actual)
        if current is not None:
            _point(folder / PREVIOUS, current.resolve().name)
        _point(folder / CURRENT, target.name)
    except OSError as exc:
        raise ModelInstallError(f"model folder {folder}: {exc.strerror or exc}") from exc
    return InstalledModel(target, version, actual)


def rollback(folder: Path) -> Path:
    """Swap current and previous; returns the file now current."""
    current, previous = current_model(folder), folder / PREVIOUS
    if current is None or not previous.exists():
        raise ModelInstallError(f"model folder {folder}: no previous model to roll back to")
    old, new = current.resolve().name, previous.resolve().name
    try:
        _point(folder / CURRENT, new)
        _point(previous, old)
    except OSError as exc:
        raise ModelInstallError(f"model folder {folder}: {exc.strerror or exc}") from exc
    return folder / new


def current_model(folder: Path) -> Path | None:
    link = folder / CURRENT
    return link if link.exists() else None


def _point(link: Path, target_name: str) -> None:
    """Make `link` a relative symlink to `target_name`, atomically (a new link renamed over the old one)."""
    fresh = link.with_name(f".{link.name}.new")
    fresh.unlink(missing_ok=True)
    fresh.symlink_to(target_name)
    os.replace(fresh, link)
