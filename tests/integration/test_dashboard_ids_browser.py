"""The dashboard in headless Chromium with what an operator, a kiosk or the network may well hand it: store "a-b"
with kiosk "c" beside store "a" with kiosk "b-c", store names that look like HTML, and answers that arrive late."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from central.store_names import StoreNames
from helpers.browser import chromium, sign_in
from helpers.central import CentralServer
from helpers.history_data import records
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(120)
HOSTILE = '<img src=x onerror="window.__xss=1">Mitte'


def test_kiosk_tiles_of_look_alike_ids_stay_in_their_stores(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path,
                            store_names=StoreNames({"a": HOSTILE, "a-b": "Hamburg"})).start()
    try:
        now = time.time()
        central.store.set_status("a", "b-c", True, now - 60)
        central.store.set_status("a-b", "c", False, now - 60)
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(central.http + "/")
            sign_in(page, "admin")
            expect(page.locator("#live")).to_have_text("● live", timeout=10_000)
            a, ab = page.locator("section.store").filter(has_text="Mitte"), page.locator("section.store").filter(
                has_text="Hamburg")
            expect(a.locator(".kiosk")).to_have_count(1, timeout=10_000)
            expect(ab.locator(".kiosk")).to_have_count(1)
            expect(a.locator(".kiosk .status-text")).to_have_text("online")
            expect(ab.locator(".kiosk .status-text")).to_have_text("offline")
            expect(a.locator(".sname")).to_have_text(HOSTILE)  # the name as text
            assert page.evaluate("window.__xss") is None
    finally:
        central.stop()


def test_a_slow_answer_for_a_view_already_left_is_not_drawn(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """Month (slow on a big database) then day, quickly: the month's answer came last and was drawn under the
    day's title, so the page showed the month's figures as today's. The network delays the month answer here."""
    from playwright.sync_api import expect

    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path).start()
    try:
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        central.store.insert_windows(records("s1", "k1", today + timedelta(minutes=30), 10))
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1100, "height": 760}, timezone_id="UTC")
            page.goto(central.http + "/")
            sign_in(page, "s1mgr")
            summary = page.locator("#store-s1 .summary")
            expect(summary).to_contain_text("today", timeout=10_000)

            def slow_month(route) -> None:
                page.wait_for_timeout(1500)
                route.continue_()

            page.route("**/period?period=month*", slow_month)
            page.select_option("#period", "month")
            page.select_option("#period", "day")
            page.wait_for_timeout(3000)
            expect(page.locator("#periodTitle")).to_have_text(today.date().isoformat())
            expect(summary).to_contain_text("today")
    finally:
        central.stop()


def test_another_site_on_the_host_cannot_log_a_manager_out(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """Another web app on the same host (another port: same site, so the SameSite=Strict cookie goes along)
    could post a form to /api/logout and end the manager's session. Now a state-changing request that the
    browser marks as coming from another origin is refused (403)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from playwright.sync_api import expect

    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path).start()
    target = central.http

    class Other(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = (f'<form id="f" method="post" action="{target}/api/logout"></form>'
                    '<script>document.getElementById("f").submit()</script>').encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), Other)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        with chromium() as browser:
            context = browser.new_context()
            page = context.new_page()
            page.goto(target + "/")
            sign_in(page, "s1mgr")
            expect(page.locator("#live")).to_have_text("● live", timeout=10_000)
            evil = context.new_page()
            with evil.expect_response(lambda r: r.url.endswith("/api/logout"), timeout=10_000) as answer:
                evil.goto(f"http://127.0.0.1:{other.server_address[1]}/", wait_until="commit")
            print(f"\n[csrf] the other site's logout form got {answer.value.status}")
            assert context.request.get(target + "/api/me").status == 200  # still logged in
    finally:
        other.shutdown()
        central.stop()


def test_the_page_runs_only_its_own_script(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """The CSP allowed any inline script ('unsafe-inline'): one escaping slip anywhere in the page and a store
    name, alert text or kiosk id could run script in a manager's session. Now the page's CSP names its one
    script by hash: the page works, and HTML injected into it (here by hand, as an escaping bug would) runs
    nothing."""
    from playwright.sync_api import expect

    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path).start()
    try:
        central.store.set_status("s1", "k1", True, time.time() - 60)
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            answer = page.goto(central.http + "/")
            script_src = [part for part in answer.headers["content-security-policy"].split(";")
                          if part.strip().startswith("script-src")]
            assert script_src and "unsafe-inline" not in script_src[0], script_src
            sign_in(page, "s1mgr")
            expect(page.locator("#live")).to_have_text("● live", timeout=10_000)  # the page's own script runs
            page.evaluate("""document.querySelector('#alerts').innerHTML =
                '<img src=x onerror="window.__xss=1"><svg><script>window.__xss=2</script></svg>'""")
            page.wait_for_timeout(500)
            assert page.evaluate("window.__xss") is None
    finally:
        central.stop()


def test_the_next_user_on_the_same_page_sees_nothing_of_the_last(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """Head office logs out, a store manager logs in on the same page: the fleet's collector line (central IT
    only) stayed on screen and its 10 s poll kept running (one more per login)."""
    from playwright.sync_api import expect

    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path).start()
    try:
        central.store.set_status("s1", "k1", True, time.time() - 60)
        central.store.set_status("s2", "k1", True, time.time() - 60)
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(central.http + "/")
            for user in ("admin", "s1mgr"):
                sign_in(page, user)
                expect(page.locator("#live")).to_have_text("● live", timeout=10_000)
                if user == "admin":
                    expect(page.locator("[data-testid=collector-health]")).to_be_visible(timeout=10_000)
                    expect(page.locator("#store-s2")).to_have_count(1)
                    page.click("#logout")
            expect(page.locator("[data-testid=collector-health]")).to_be_hidden()
            expect(page.locator("#store-s2")).to_have_count(0)
            stats: list[str] = []
            page.on("request", lambda r: stats.append(r.url) if r.url.endswith("/api/stats") else None)
            page.wait_for_timeout(11_000)
            assert stats == []
    finally:
        central.stop()
