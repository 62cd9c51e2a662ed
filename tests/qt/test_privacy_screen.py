"""Privacy on the kiosk screen, with real widgets and the real camera pipeline on the demo clip: the notice
(legible at 2 m, controller, contact, QR code), "without mood reading" and the mood opt-in, and the board's
light over a real pty."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from PySide6.QtGui import QFontMetricsF, QImage
from PySide6.QtWidgets import QPushButton

from helpers.kiosk_ui import ANNA, CLARA, LANDSCAPE, PORTRAIT, clipped_texts, wedge_scan
from helpers.pty_board import PtyBoard

pytestmark = pytest.mark.timeout(120)

PANEL_SHORT_SIDE_MM = 535.0  # a 43-inch 16:9 panel is 952 x 535 mm, whichever way round it hangs
READING_DISTANCE_MM = 2000.0
MIN_ARCMIN = 20.0  # ISO 9241-303: recommended character (capital) height on a display


def cut_buttons(root) -> list[str]:
    """Visible buttons whose text is wider than the button (a QLabel check does not see buttons)."""
    return [f"{b.text()!r} needs {b.sizeHint().width()}px, has {b.width()}px"
            for b in root.findChildren(QPushButton) if b.isVisibleTo(root) and b.sizeHint().width() > b.width() + 1]


def decode_qr(widget) -> str:
    image: QImage = widget.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    array = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())[:, : image.width()]
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(np.ascontiguousarray(array))
    return text


@pytest.mark.parametrize("size", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
def test_notice_is_legible_at_2_m_and_names_who_to_ask(qtbot, make_config, start_app, size):
    app = start_app(make_config(camera={"enabled": True}), size)
    w = app.window
    cap_px = QFontMetricsF(w.notice.font()).capHeight()
    cap_mm = cap_px * PANEL_SHORT_SIDE_MM / min(size)
    arcmin = math.degrees(math.atan(cap_mm / READING_DISTANCE_MM)) * 60
    print(f"\nnotice at {size[0]}x{size[1]} on a 43-inch panel: capitals {cap_px:.1f} px = {cap_mm:.1f} mm, "
          f"{arcmin:.1f} arcmin at 2 m")
    assert arcmin >= MIN_ARCMIN
    text = w.notice.text()
    assert "Demo Store GmbH" in text and "privacy@demo-store.example" in text
    assert "estimates moods on this device" in text
    assert decode_qr(w.privacy_qr) == "https://demo-store.example/privacy"
    assert clipped_texts(w) == [] and cut_buttons(w) == []


def test_notice_and_qr_follow_the_config(qtbot, make_config, start_app):
    app = start_app(make_config(language="de", camera={"enabled": True}, privacy={
        "controller": "Beispiel Markt AG, Hauptstr. 2, 80331 München", "contact": "+49 89 123456",
        "privacy_url": "https://markt.example/datenschutz"}))
    assert "Verantwortlich: Beispiel Markt AG" in app.window.notice.text()
    assert "+49 89 123456" in app.window.notice.text()
    assert decode_qr(app.window.privacy_qr) == "https://markt.example/datenschutz"


def test_without_mood_reading_stops_the_camera_analysis(qtbot, make_config, start_app):
    app = start_app(make_config(camera={"enabled": True, "source": "demo"}))
    w = app.window
    qtbot.waitUntil(lambda: app.vision.health()["frames"] > 5, timeout=20000)
    assert w.attract.no_mood.isVisible() and w.attract.no_mood.isEnabled()
    w.attract.no_mood.click()
    assert app.gate.paused and app.session.view.mood_paused
    assert w.notice.text().startswith("Mood reading is switched off for your visit")
    assert w.attract.mood_level.text() == "Mood reading is off" and not w.attract.gauge.isVisible()
    assert not w.attract.no_mood.isEnabled()
    withheld = app.vision.health()["frames_withheld"]
    qtbot.waitUntil(lambda: app.vision.health()["frames_withheld"] > withheld + 5, timeout=20000)
    analysed = app.vision.health()["frames"]  # frames analysed (withheld ones are not counted there)
    qtbot.wait(500)
    assert app.vision.health()["frames"] == analysed  # not one analysed during the pause
    wedge_scan(w, CLARA)
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
    assert not w.offers.no_mood.isEnabled() and not w.offers.mood_opt_in.isVisible()
    assert app.gate.paused


def test_pause_from_the_offers_screen_and_the_opt_in(qtbot, make_config, start_app):
    app = start_app(make_config(camera={"enabled": True}, offers={"mood_reorder": True}))
    w = app.window
    wedge_scan(w, CLARA)
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
    assert w.offers.mood_opt_in.isVisible() and w.offers.mood_opt_in.text() == "Let my mood order my offers"
    w.offers.mood_opt_in.click()
    assert app.session.view.mood_opt_in and not w.offers.mood_opt_in.isEnabled()
    assert "only if you agree on screen" in w.notice.text()
    w.offers.no_mood.click()
    assert app.gate.paused and not w.offers.mood_opt_in.isVisible() and not app.session.view.mood_opt_in


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"])
def test_paused_screens_fit(qtbot, make_config, start_app, artifacts_dir, size, language):
    app = start_app(make_config(language=language, camera={"enabled": True}, offers={"mood_reorder": True,
                                                                                   "max_offers": 5}), size)
    w = app.window
    tag = f"{size[0]}x{size[1]}_{language}"
    wedge_scan(w, ANNA)
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
    qtbot.wait(30)
    assert clipped_texts(w) == [] and cut_buttons(w) == []
    assert w.grab().save(str(artifacts_dir / f"screen_offers_optin_{tag}.png"))
    w.offers.mood_opt_in.click()
    qtbot.wait(30)
    assert clipped_texts(w) == [] and cut_buttons(w) == []
    w.offers.no_mood.click()
    qtbot.wait(30)
    assert clipped_texts(w) == [] and cut_buttons(w) == []
    w.offers.done.click()
    w.feedback.skip.click()
    assert w.current_screen() is w.attract
    qtbot.wait(30)
    assert clipped_texts(w) == [] and cut_buttons(w) == []
    assert w.grab().save(str(artifacts_dir / f"screen_attract_paused_{tag}.png"))


def test_board_light_shows_reading_off_for_the_whole_pause(qtbot, make_config, start_app, clock, tmp_path):
    board = PtyBoard(tmp_path)
    board.start()
    try:
        app = start_app(make_config(
            camera={"enabled": True}, peripheral={"enabled": True, "port": board.port},
            privacy={"mood_pause_after_s": 60},
        ))
        w = app.window
        qtbot.waitUntil(lambda: "Reader: connected" in w.service.text(), timeout=10000)
        led = lambda: board.board.led.state(board.board.clock.ticks_ms())  # noqa: E731
        qtbot.waitUntil(lambda: led() == "idle", timeout=5000)
        w.attract.no_mood.click()
        qtbot.waitUntil(lambda: led() == "private", timeout=5000)
        assert board.board.led.color(board.board.clock.ticks_ms()) == (120, 0, 200)
        wedge_scan(w, CLARA)  # a visit during the pause: the light stays violet (no green from the kiosk)
        qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
        qtbot.wait(400)
        assert led() == "private" and board.board.led.base == "private"
        w.offers.done.click()
        w.feedback.skip.click()
        clock.advance(59)
        qtbot.wait(400)
        assert led() == "private"
        clock.advance(2)  # the pause ran out: analysis and the ordinary light come back
        qtbot.waitUntil(lambda: not app.gate.paused, timeout=10000)
        qtbot.waitUntil(lambda: led() == "idle", timeout=5000)
    finally:
        board.stop()
    assert not board.errors, board.errors
