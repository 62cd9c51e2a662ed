"""Headless Chromium for the dashboard tests: one way to start it and one way to sign in."""
from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Iterator

import pytest

from helpers.central import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"  # Debian's package: Playwright's own download is not allowed here


@contextlib.contextmanager
def chromium() -> Iterator["Browser"]:
    """A headless Chromium with nothing of its own on the network (no updates, no sync), closed afterwards."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"CHROMIUM MISSING: {CHROMIUM} not found; run scripts/setup.sh dev")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync"])
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: "Page", user: str, password: str = PASSWORD) -> None:
    """Fill the dashboard's login form and press "Sign in" (what a manager does)."""
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#signin")
