"""The history views in headless Chromium: head office's comparison, period paging, feedback beside camera mood
with the disagreement marker, store names, CSV link, heat map; phone (390 px) and desktop (1280 px) screenshots."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from central.rollup import Rollup
from central.store_names import StoreNames
from helpers.browser import chromium, sign_in
from helpers.central import CentralServer
from helpers.history_data import records
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)

TODAY = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
pytestmark = pytest.mark.timeout(150)


def _happy_camera_unhappy_shoppers(store: str, kiosk: str, start: datetime, minutes: int) -> list:
    """The issue's case: the camera says +1.00 all along while shoppers press ☹️."""
    out = []
    for i, r in enumerate(records(store, kiosk, start, minutes)):
        people = max(r.people, 1)
        out.append(replace(r, people=people, counts={"happy": people}, mood_index=1.0, feedback_happy=0,
                           feedback_neutral=0, feedback_unhappy=int(i % 10 == 0)))
    return out


def _no_overflow_and_readable(page) -> None:
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, "the page scrolls sideways"
    smallest = page.evaluate("""Math.min(...[...document.querySelectorAll('section.store svg text')]
        .filter((t) => t.getBoundingClientRect().width > 0).map((t) => t.getBoundingClientRect().height))""")
    assert smallest >= 9, f"chart labels render {smallest:.1f} px high"


def test_history_views_desktop_and_phone(mosquitto: MosquittoBroker, tmp_path: Path, artifacts_dir: Path) -> None:
    from playwright.sync_api import expect

    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path,
                            store_names=StoreNames({"s1": "Berlin Mitte", "s2": "Hamburg Hbf"})).start()
    try:
        central.store.insert_windows(
            _happy_camera_unhappy_shoppers("s1", "k1", TODAY + timedelta(hours=6), 120)
            + [replace(r, feedback_happy=0, feedback_neutral=0, feedback_unhappy=0)  # k2: nobody pressed
               for r in records("s1", "k2", TODAY + timedelta(hours=7), 60, 1)]
            + records("s1", "k1", TODAY - timedelta(days=1, hours=-8), 60, 2)
            + records("s2", "k1", TODAY + timedelta(hours=9), 60, 3))
        Rollup(central.store).roll()
        from central.offers_store import save_offer_days
        from contract.offers import OfferCount, OffersDay
        save_offer_days(central.store, [OffersDay("s1", "k1", TODAY.date(), TODAY, 3, 7, 4,
                                                  (OfferCount("repurchase", "coffee", 9),),
                                                  {"happy": 3, "neutral": 0, "unhappy": 5}, 1)], TODAY.timestamp())
        central.store.insert_windows(records("s2", "k1", TODAY + timedelta(hours=11), 30, 4))  # raw, not yet rolled
        with chromium() as browser:
            desktop = browser.new_page(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
            desktop.goto(central.http + "/")
            sign_in(desktop, "admin")
            table = desktop.locator("[data-testid=compare]")
            expect(table).to_contain_text("Berlin Mitte", timeout=10_000)
            expect(table).to_contain_text("Hamburg Hbf")
            s1 = desktop.locator("#store-s1")
            expect(s1.locator(".sname")).to_have_text("Berlin Mitte")
            stats = s1.locator("[data-testid=period-stats]")
            expect(stats).to_contain_text("⚠ disagree")
            expect(stats).to_contain_text("camera mood index")
            expect(stats).to_contain_text("presses per 100 people seen")
            assert "60 s window" in stats.locator(".help", has_text="people seen per window").get_attribute("title")
            expect(s1.locator("rect.disagree-mark").first).to_be_attached()
            offers = s1.locator("[data-testid=offers]")
            expect(offers).to_contain_text("7 card sessions · 4 guest sessions")
            expect(offers).to_contain_text("9 offers shown (repurchase 9)")
            offers.locator("summary").click()
            expect(offers.locator("table.cmp tr")).to_have_count(2)
            k1 = desktop.locator("#kiosk-s1-k1 [data-testid=kiosk-period]")
            expect(k1).to_contain_text("today")
            expect(k1).to_contain_text("disagree")
            assert desktop.locator("#kiosk-s1-k1 svg.spark polyline").get_attribute("points").count(",") == 2  # 06h, 07h
            s2_windows = desktop.locator("#store-s2 .stat", has_text="kiosk windows").locator(".v")
            expect(s2_windows).to_have_text("90")  # 60 rolled up + 30 raw windows not rolled up yet

            href = s1.locator("a.csv").get_attribute("href")
            got = httpx.get(central.http + href, cookies={c["name"]: c["value"] for c in desktop.context.cookies()},
                            timeout=10)
            assert got.status_code == 200 and got.text.startswith("store,store_name,bucket")
            assert len(got.text.strip().splitlines()) == 1 + 24

            desktop.locator("#store-s1 details.heatbox summary").click()
            expect(desktop.locator("#store-s1 svg.heat rect.cell").first).to_be_attached(timeout=10_000)
            desktop.select_option("#period", "month")
            expect(s1.locator(".summary")).to_contain_text("month", timeout=10_000)
            assert "period=month" in desktop.url
            desktop.click("#prev")
            expect(s1.locator(".summary")).to_contain_text("month", timeout=10_000)
            desktop.click("#today")
            desktop.select_option("#period", "day")
            expect(stats).to_contain_text("⚠ disagree", timeout=10_000)
            desktop.wait_for_timeout(300)
            _no_overflow_and_readable(desktop)
            desktop.screenshot(path=str(artifacts_dir / "dashboard-history-1280.png"), full_page=True)

            phone = browser.new_page(viewport={"width": 390, "height": 844}, timezone_id="UTC",
                                     device_scale_factor=2, is_mobile=True, has_touch=True)
            phone.goto(central.http + "/")
            sign_in(phone, "s1mgr")
            expect(phone.locator("#store-s1 [data-testid=period-stats]")).to_contain_text("⚠ disagree",
                                                                                           timeout=10_000)
            expect(phone.locator("#compare")).to_be_hidden()  # one store: no comparison table
            expect(phone.locator("#store-s2")).to_have_count(0)
            phone.locator("#store-s1 details.heatbox summary").click()
            expect(phone.locator("#store-s1 svg.heat rect.cell").first).to_be_attached(timeout=10_000)
            phone.wait_for_timeout(300)
            _no_overflow_and_readable(phone)
            phone.screenshot(path=str(artifacts_dir / "dashboard-history-390.png"), full_page=True)
            print(f"\nscreenshots: {artifacts_dir / 'dashboard-history-1280.png'}, "
                  f"{artifacts_dir / 'dashboard-history-390.png'}")
    finally:
        central.stop()
