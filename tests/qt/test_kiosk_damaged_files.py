"""A power cut that damaged the kiosk's rebuildable state files (spool, offer counts, offer snapshots) must not
stop the kiosk: it sets each aside, starts afresh, serves shoppers and sends telemetry (real Mosquitto). A damaged
loyalty store (the shop's own data) is left where it is and the kiosk serves shoppers without it."""
from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from PySide6.QtCore import Qt

from contract.payloads import decode_health
from helpers.kiosk_ui import CLARA, wedge_scan
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)

DAMAGED = ("spool.sqlite", "offer_stats.sqlite", "offer_snapshots.sqlite")


def test_kiosk_starts_and_serves_with_damaged_state_files(qtbot, make_config, start_app, tmp_path: Path,
                                                          mosquitto: MosquittoBroker) -> None:  # noqa: F811
    """Before: `KioskApp.start()` raised "file is not a database" for any of the three (the CLI's one line,
    exit 2; under systemd a restart loop with no screen)."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    for name in DAMAGED:
        (data / name).write_bytes(b"\x13\x37 torn by a power cut " * 400)
    config = make_config(data_dir=str(data), mqtt={"enabled": True, "url": mosquitto.url, "health_interval_s": 5},
                         offers={"snapshot_dir": str(tmp_path / "snapshots")})
    app = start_app(config)
    w = app.window
    wedge_scan(w, CLARA)
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=5000)
    assert w.offers.greeting.text() == "Hello Clara!"
    qtbot.waitUntil(lambda: app.telemetry.state.connection == "connected", timeout=10000)
    assert app.offer_stats is not None and type(app.offers).__name__ == "SnapshotOfferSource"  # both back in use
    for name in DAMAGED:
        assert len(list(data.glob(f"{name}.damaged-*"))) == 1, name  # kept for a person to look at
        assert (data / name).read_bytes()[:16] == b"SQLite format 3\0", name  # a fresh, working file


def _truncate(path: Path) -> None:
    """Cut at a page boundary a third of the way in: a power cut during a copy or a restore."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size // 3 // 4096 * 4096)


def _overwrite_first_page(path: Path) -> None:
    """Scribble over the header and the schema page (a torn write, another program's file)."""
    with path.open("r+b") as f:
        f.write(b"\x13\x37 torn by a power cut " * 160)


@pytest.mark.parametrize("damage", [_truncate, _overwrite_first_page], ids=["truncated", "first-page-overwritten"])
def test_kiosk_starts_and_serves_without_a_damaged_loyalty_store(
        damage, qtbot, make_config, start_app, demo_store_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        mosquitto: MosquittoBroker) -> None:  # noqa: F811
    """Before: `KioskApp()` raised "[loyalty] db_path: ... cannot open: file is not a database" (or, cut short,
    "database disk image is malformed" while learning the offer model): the CLI's one line, exit 2, and under
    systemd a restart loop with nothing on screen. Now the kiosk starts without the store and leaves it as it is."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    db = data / "loyalty.sqlite"
    shutil.copyfile(demo_store_path, db)
    damage(db)
    damaged = db.read_bytes()
    health: list[dict[str, object]] = []
    listener = _listen_for_health(mosquitto, health)
    try:
        config = make_config(data_dir=str(data), loyalty={"db_path": str(db)}, mood={"window_seconds": 5},
                             mqtt={"enabled": True, "url": mosquitto.url, "health_interval_s": 5})
        with caplog.at_level(logging.INFO):
            app = start_app(config)
        w = app.window
        assert app.loyalty_status.value == "unavailable"
        assert "Loyalty: unavailable – cards not recognised" in w.service.text()
        wedge_scan(w, CLARA)  # a member's card: the store that knows her is not there
        qtbot.waitUntil(lambda: w.current_screen() is w.card_error, timeout=5000)
        assert w.card_error.title.text() == "We don't know this card yet"
        qtbot.mouseClick(w.card_error.guest, Qt.MouseButton.LeftButton)
        assert w.current_screen() is w.offers and w.offers.greeting.text() == "Hello!"
        qtbot.mouseClick(w.offers.done, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: w.current_screen() is w.feedback, timeout=3000)
        qtbot.mouseClick(w.feedback.buttons["happy"], Qt.MouseButton.LeftButton)
        assert w.current_screen() is w.thanks
        qtbot.waitUntil(lambda: app.telemetry.state.connection == "connected", timeout=10000)
        qtbot.waitUntil(lambda: bool(health), timeout=15000)
    finally:
        listener.loop_stop()
        listener.disconnect()
    assert health[-1]["loyalty_store"] == "unavailable"
    told = [r.getMessage() for r in caplog.records if "import-loyalty" in r.getMessage()]
    assert len(told) == 1 and "\n" not in told[0] and str(db) in told[0], told  # once, one line, the file named
    assert db.read_bytes() == damaged and not list(data.glob("loyalty.sqlite.damaged-*"))  # the shop's file as it was


def _listen_for_health(broker: MosquittoBroker, into: list[dict[str, object]]) -> mqtt.Client:
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="loyalty-health-listener")
    client.on_connect = lambda c, *_: c.subscribe("moodkiosk/v1/+/+/health", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, m: into.append(decode_health(bytes(m.payload)))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    assert subscribed.wait(5)
    return client
