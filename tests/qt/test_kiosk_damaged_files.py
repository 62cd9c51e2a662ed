"""A power cut that damaged the kiosk's rebuildable state files (spool, offer counts, offer snapshots) must not
stop the kiosk: it sets each aside, starts afresh, serves shoppers and sends telemetry (real Mosquitto)."""
from __future__ import annotations

from pathlib import Path

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
