"""The managers' dashboard in headless Chromium: log in, see a window arrive live, see a kiosk go offline."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from helpers.browser import chromium, sign_in
from helpers.central import PASSWORD, CentralServer
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)
from helpers.windows import window as base_window
from kiosk.config import MqttConfig
from kiosk.services.spool import Spool
from kiosk.services.telemetry import TelemetryPublisher

NOW = datetime.now(timezone.utc)
# The windows lie in the last two hours (the collector rejects windows from the future), and the browser runs
# in a fixed-offset zone where it is about noon now, so all of them fall on the page's "today".
START = (NOW - timedelta(minutes=110)).replace(second=0, microsecond=0)
_OFFSET = (12 - NOW.hour + 12) % 24 - 12  # -12..11 hours
BROWSER_TZ = f"Etc/GMT{'-' if _OFFSET >= 0 else '+'}{abs(_OFFSET)}"  # Etc/GMT-5 is UTC+5


def window(i: int):
    """Windows of the page's today, minute i from START."""
    return base_window(i, t0=START)
pytestmark = pytest.mark.timeout(120)


def test_dashboard_live_update_and_offline(mosquitto: MosquittoBroker, tmp_path: Path, artifacts_dir: Path) -> None:
    from playwright.sync_api import expect

    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path).start()
    publishers = {
        kiosk: TelemetryPublisher(MqttConfig(url=mosquitto.url, health_interval_s=1), "s1", kiosk,
                                  Spool(tmp_path / f"{kiosk}.sqlite", 100))
        for kiosk in ("k1", "k2")
    }
    other_store = TelemetryPublisher(MqttConfig(url=mosquitto.url, health_interval_s=3600), "s2", "k1",
                                     Spool(tmp_path / "s2.sqlite", 100))
    try:
        for pub in (*publishers.values(), other_store):
            pub.start()
        publishers["k2"].report_health({"fps": 14.2, "inference_ms": 9.5})
        for i in range(6):  # a morning of history so the day chart has something to draw
            publishers["k1"].submit_window(window(i * 15), {"happy": 1}, "test-1")
        other_store.submit_window(window(0), {}, "test-1")
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1100, "height": 760}, timezone_id=BROWSER_TZ)
            page.goto(central.http + "/")
            page.fill("#username", "s1mgr")
            page.fill("#password", "wrong-password")
            page.click("#signin")
            expect(page.locator("#loginError")).to_have_text("Wrong user name or password.")
            page.fill("#password", PASSWORD)
            page.click("#signin")
            expect(page.locator("#live")).to_have_text("● live", timeout=10_000)
            k1 = page.locator("#kiosk-s1-k1")
            expect(k1.locator(".status-text")).to_have_text("online", timeout=10_000)
            expect(page.locator("#store-s2")).to_have_count(0)  # a manager of s1 never sees s2

            # Published after the page loaded: appears without a reload.
            page.evaluate("window.__noReload = true")
            live = window(100)
            publishers["k2"].submit_window(live, {"happy": 2, "unhappy": 1}, "test-1")
            k2 = page.locator("#kiosk-s1-k2")
            expect(k2.locator("[data-testid=mood]")).to_have_text(f"+{live.mood_index:.2f}", timeout=10_000)
            expect(k2).to_contain_text(f"{live.people} people")
            expect(k2.locator(".fb")).to_contain_text("😊 2")
            expect(page.locator("#store-s1 svg.chart circle").first).to_be_visible(timeout=10_000)
            expect(k2.locator(".health")).to_have_text("14.2 fps · spool 0", timeout=10_000)
            expect(k2.locator(".mixtext")).to_have_text(
                " · ".join(f"{label} {round(100 * n / live.people)}%"
                           for label, n in sorted(live.counts.items(), key=lambda kv: -kv[1]) if n))
            now = page.locator("#store-s1 [data-testid=store-now]")
            expect(now).to_contain_text("2/2kiosks online")

            publishers["k1"].stop()  # clean stop publishes the retained `offline`
            expect(k1.locator(".status-text")).to_have_text("offline", timeout=10_000)
            expect(k1.locator(".state")).to_contain_text("offline since")
            # The store's mood now counts only kiosks still online: k2's latest window.
            expect(now).to_contain_text("1/2kiosks online")
            expect(now.locator(".big").first).to_have_text(f"+{live.mood_index:.2f}")
            expect(now).to_contain_text(f"{live.people}people seen in the latest windows")
            assert page.evaluate("window.__noReload") is True  # the same page, updated live
            expect(page.locator("[data-testid=collector-health]")).to_be_hidden()  # a store manager: no fleet figures
            page.wait_for_timeout(1800)  # let the debounced day chart refresh finish drawing
            shot = artifacts_dir / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"\nscreenshot: {shot}")
            # central IT sees the collector's health line with every reject counted by reason
            import paho.mqtt.client as mqtt
            from paho.mqtt.enums import CallbackAPIVersion

            raw = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="poison", protocol=mqtt.MQTTv5)
            raw.connect("127.0.0.1", mosquitto.port)
            raw.loop_start()
            raw.publish("moodkiosk/v1/s1/k9/mood", b'{"mood_index": NaN}', qos=1).wait_for_publish(5)
            raw.loop_stop()
            raw.disconnect()
            page.click("#logout")
            sign_in(page, "admin")
            expect(page.locator("[data-testid=collector-health]")).to_contain_text("malformed_json 1", timeout=15_000)
            expect(page.locator("[data-testid=collector-health]")).to_contain_text("collector: connected")
    finally:
        for pub in (*publishers.values(), other_store):
            pub.stop()
        central.stop()
