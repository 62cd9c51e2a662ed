"""Every screen at 1080x1920 portrait and 1920x1080 landscape, in both languages: nothing cut off; PNGs saved."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from helpers.kiosk_ui import ANNA, LANDSCAPE, PORTRAIT, UNKNOWN_EAN, clipped_texts, wedge_scan

# Ben (en) / Anna (de) have long offer titles in the demo data; max_offers=5 is the fullest screen.
BEN = "2900000000025"


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"])
def test_screens_fit(qtbot, make_config, start_app, artifacts_dir, size, language):
    app = start_app(make_config(language=language, offers={"max_offers": 5}, camera={"enabled": True}), size)
    w = app.window
    assert (w.width(), w.height()) == size
    tag = f"{size[0]}x{size[1]}_{language}"
    problems: dict[str, list[str]] = {}

    def shot(name: str) -> None:
        qtbot.wait(30)  # let layouts settle
        problems[name] = clipped_texts(w)
        assert w.grab().save(str(artifacts_dir / f"screen_{name}_{tag}.png"))

    app.session.mood_update(["happy", "happy", "neutral", None], "happy")
    shot("attract")
    wedge_scan(w, BEN if language == "en" else ANNA)
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
    assert len(w.offers.cards) == 5
    shot("offers")
    qtbot.mouseClick(w.offers.done, Qt.MouseButton.LeftButton)
    shot("feedback")
    qtbot.mouseClick(w.feedback.buttons["neutral"], Qt.MouseButton.LeftButton)
    shot("thanks")
    wedge_scan(w, UNKNOWN_EAN)
    qtbot.waitUntil(lambda: w.current_screen() is w.card_error, timeout=3000)
    shot("card_error")
    qtbot.mouseClick(w.card_error.guest, Qt.MouseButton.LeftButton)
    shot("guest_offers")
    assert {name: found for name, found in problems.items() if found} == {}


def test_the_fit_check_catches_a_cut_off_text(qtbot, make_config, start_app):
    """The check above must be able to fail: a text far too long for any screen."""
    app = start_app(make_config(), LANDSCAPE)
    label = app.window.attract.how
    assert clipped_texts(app.window) == []
    label.setText(label.text() * 60)
    qtbot.wait(50)
    assert clipped_texts(app.window)
