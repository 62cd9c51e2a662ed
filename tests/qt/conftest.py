"""Qt kiosk tests: a real demo loyalty store (SQLite in a tmp dir), real widgets offscreen, an injectable clock."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from kiosk.app import KioskApp
from kiosk.config import KioskConfig, parse_config
from kiosk.demo_data.generate import seed_demo
from kiosk.services.loyalty import LoyaltyStore
from helpers.kiosk_ui import LANDSCAPE, ManualClock


@pytest.fixture(scope="session")
def demo_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("loyalty") / "loyalty.sqlite"
    with LoyaltyStore(path) as store:
        seed_demo(store, path.parent / "csv")
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

    def start(config: KioskConfig, size: tuple[int, int] = LANDSCAPE, vision: Any = None) -> KioskApp:
        app = KioskApp(config, fullscreen=False, size=size, clock=clock, vision=vision)
        started.append(app)
        qtbot.addWidget(app.window)
        app.start()
        qtbot.waitExposed(app.window)
        return app

    yield start
    for app in started:
        app.stop()
