"""Test-wide settings: Qt runs offscreen on purpose (CI has no screen), artefacts go to tests/artifacts."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests save screenshots and figures for a person to look at (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def _quick_password_hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Users made by tests are hashed with scrypt N=2^14 instead of the OWASP N=2^17 (0.1 s instead of ~1 s a
    hash on 2 shared cores); a hash carries its parameters, so checking them is the real code path.
    Tests marked `owasp_scrypt` (the one about the parameters) keep the real cost."""
    if request.node.get_closest_marker("owasp_scrypt") is None:
        import central.auth

        monkeypatch.setattr(central.auth, "_SCRYPT", {"n": 2**14, "r": 8, "p": 1, "dklen": 32})


@pytest.fixture(autouse=True)
def _process_environment_restored() -> Iterator[None]:
    """Each test leaves the process environment as it found it. A kiosk started with its camera points the
    proxy variables at a closed port (`vision/no_telemetry.py`, for MediaPipe's usage-log client); a later test
    in the same process then sent its own HTTP requests to that port ("Connection refused" from httpx), so two
    central tests failed whenever they ran after a Qt test with the camera on."""
    before = dict(os.environ)
    yield
    if os.environ != before:
        os.environ.clear()
        os.environ.update(before)
