"""Qt kiosk tests: a real demo loyalty store (SQLite in a tmp dir), real widgets offscreen, an injectable clock."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from PySide6.QtWidgets import QLabel, QWidget

from kiosk.app import KioskApp, seed_demo_data
from kiosk.config import KioskConfig, parse_config
from kiosk.services.loyalty import LoyaltyStore

ANNA = "2900000000018"  # demo persona, language de
CLARA = "2900000000032"  # demo persona, language en
FELIX_LUHN = "6012000000000060"
UNKNOWN_EAN = "4006381333931"  # valid EAN-13, not a customer
BAD_CHECK = "2900000000019"  # Anna's number with a wrong check digit

LANDSCAPE, PORTRAIT = (1920, 1080), (1080, 1920)


class ManualClock:
    """Monotonic clock the test moves by hand, so timeouts need no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def demo_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("loyalty") / "loyalty.sqlite"
    with LoyaltyStore(path) as store:
        seed_demo_data(store)
    return path


@pytest.fixture
def make_config(tmp_path: Path, demo_store_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., KioskConfig]:
    monkeypatch.setenv("MOODKIOSK_CARD_HASH_KEY", "test-key-for-the-qt-tests-0123456789")

    def make(**sections: Any) -> KioskConfig:
        data: dict[str, Any] = {
            "data_dir": str(tmp_path / "data"),
            "camera": {"enabled": False},
            "loyalty": {"db_path": str(demo_store_path)},
            "ui": {"fullscreen": False},
        }
        for key, value in sections.items():
            if isinstance(value, dict):
                data.setdefault(key, {}).update(value)
            else:
                data[key] = value
        return parse_config(data, "test config")

    return make


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def start_app(qtbot: Any, clock: ManualClock) -> Iterator[Callable[..., KioskApp]]:
    """Start a KioskApp (windowed, given size); it is stopped after the test whatever happens."""
    started: list[KioskApp] = []

    def start(config: KioskConfig, size: tuple[int, int] = LANDSCAPE) -> KioskApp:
        app = KioskApp(config, fullscreen=False, size=size, clock=clock)
        started.append(app)
        qtbot.addWidget(app.window)
        app.start()
        qtbot.waitExposed(app.window)
        return app

    yield start
    for app in started:
        app.stop()


def clipped_texts(root: QWidget) -> list[str]:
    """Visible labels whose text does not fit: wrapped text taller than the label, or a label off the window."""
    problems = []
    window_rect = root.rect()
    for label in root.findChildren(QLabel):
        if not label.isVisibleTo(root) or not label.text():
            continue
        top_left = label.mapTo(root, label.rect().topLeft())
        bottom_right = label.mapTo(root, label.rect().bottomRight())
        if not (window_rect.contains(top_left) and window_rect.contains(bottom_right)):
            problems.append(f"{label.text()!r} lies outside the window")
            continue
        if label.wordWrap():
            needed = label.heightForWidth(label.width())
            if needed > label.height() + 1:
                problems.append(f"{label.text()!r} needs {needed}px, has {label.height()}px")
        elif label.sizeHint().width() > label.width() + 1:
            problems.append(f"{label.text()!r} needs {label.sizeHint().width()}px wide, has {label.width()}px")
    return problems
