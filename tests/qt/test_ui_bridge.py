"""Worker threads talk to the screens only through the bridge: frames, QR texts, source events, cards, buttons."""
from __future__ import annotations

import threading

import pytest

from helpers.kiosk_ui import CLARA, ManualClock
from kiosk.i18n import LANGUAGES, load_translator
from kiosk.services.cards import CardHasher
from kiosk.services.shop import open_shop
from kiosk.status import ReaderStatus
from kiosk.session import KioskSession, State
from kiosk.ui.bridge import KioskBridge
from kiosk.ui.controllers.kiosk import KioskController
from kiosk.ui.window import KioskWindow
from vision.types import Box, Face, FrameResult, SourceEvent


def faces(*labels: str | None) -> tuple[Face, ...]:
    return tuple(Face(Box(40 + 120 * i, 60, 100 + 10 * i, 100 + 10 * i), 0.9, None, i, label)
                 for i, label in enumerate(labels))


@pytest.fixture
def ui(qtbot, make_config):
    config = make_config(camera={"enabled": True})
    shop = open_shop(config, CardHasher(config.card_hash_key()))
    session = KioskSession(config, shop.store, shop.engine, ManualClock(), hasher=CardHasher(b"k" * 32))
    window, bridge = KioskWindow(), KioskBridge()
    qtbot.addWidget(window)
    controller = KioskController(window, session, bridge, {lang: load_translator(lang) for lang in LANGUAGES},
                                 "en", camera_on=True, broker_on=False, reader=ReaderStatus.KEYBOARD, wedge=None)
    window.resize(1920, 1080)
    window.show()
    yield window, bridge, session
    controller.close()
    shop.close()


def run_in_thread(work) -> None:
    worker = threading.Thread(target=work)
    worker.start()
    worker.join(10)
    assert not worker.is_alive()


def test_frames_from_a_worker_update_the_room_mood(qtbot, ui):
    window, bridge, session = ui
    assert window.attract.gauge.index is None
    assert window.attract.people.text() == "Nobody in view"

    def camera() -> None:
        for i in range(300):  # far faster than the UI takes them: most are skipped, none queue up
            bridge.on_frame(FrameResult(float(i), faces("happy", "happy", "neutral")))

    run_in_thread(camera)
    qtbot.waitUntil(lambda: window.attract.people.text() == "3 people in view", timeout=3000)
    assert window.attract.gauge.index == pytest.approx(2 / 3, abs=0.01)
    assert window.attract.mood_level.text() == "Cheerful"
    assert bridge.frames_in == 300 and bridge.frames_skipped > 0

    run_in_thread(lambda: bridge.on_frame(FrameResult(301.0, faces("sad", None))))
    qtbot.waitUntil(lambda: window.attract.people.text() == "2 people in view", timeout=3000)
    assert window.attract.mood_level.text() == "Gloomy"  # one sad face, one uncertain: index -1


def test_qr_text_in_a_frame_opens_offers_once(qtbot, ui):
    window, bridge, session = ui
    seen: list[State] = []
    session.add_listener(lambda view: seen.append(view.state))
    session.add_listener(lambda view: threading.current_thread() is threading.main_thread() or seen.append(None))

    def camera() -> None:  # the QR code stays in view for many frames
        for i in range(20):
            bridge.on_frame(FrameResult(float(i), faces(None), qr_text=f"moodkiosk:card:{CLARA}"))

    run_in_thread(camera)
    qtbot.waitUntil(lambda: window.current_screen() is window.offers, timeout=3000)
    assert window.offers.greeting.text() == "Hello Clara!"
    qtbot.wait(100)
    screens = [state for i, state in enumerate(seen) if i == 0 or seen[i - 1] is not state]
    assert screens[-1:] == [State.OFFERS] and screens.count(State.OFFERS) == 1  # one session: the code seen again in later frames only extends it


def test_foreign_qr_codes_are_ignored(qtbot, ui):
    window, bridge, session = ui
    run_in_thread(lambda: bridge.on_frame(FrameResult(1.0, (), qr_text="https://example.com/promo")))
    qtbot.wait(100)
    assert window.current_screen() is window.attract


def test_camera_down_and_up_on_the_service_line(qtbot, ui):
    window, bridge, session = ui
    run_in_thread(lambda: bridge.on_frame(FrameResult(1.0, faces("happy", "happy", "happy"))))
    qtbot.waitUntil(lambda: window.attract.people.text() == "3 people in view", timeout=3000)
    run_in_thread(lambda: bridge.on_source_event(SourceEvent("down", "camera 0", "device unplugged")))
    qtbot.waitUntil(lambda: "Camera: not available" in window.service.text(), timeout=3000)
    # no stale mood while blind, and no "Nobody in view" either: the shopper is told the mood is unknown
    assert window.attract.mood_level.text() == "Mood reading unavailable"
    assert window.attract.people.isHidden() and window.attract.gauge.index is None
    run_in_thread(lambda: bridge.on_source_event(SourceEvent("ended", "clip.mp4", "end of file")))
    qtbot.waitUntil(lambda: "Camera: input ended" in window.service.text(), timeout=3000)
    run_in_thread(lambda: bridge.on_source_event(SourceEvent("up", "camera 0", "")))
    qtbot.waitUntil(lambda: "Camera: ok" in window.service.text(), timeout=3000)
    assert not window.attract.people.isHidden() and window.attract.people.text() == "Nobody in view"
    assert window.attract.mood_level.text() == "–"


def test_peripheral_card_and_buttons_from_a_worker(qtbot, ui):
    window, bridge, session = ui
    threads: set[str] = set()
    session.add_listener(lambda view: threads.add(threading.current_thread().name))
    run_in_thread(lambda: bridge.on_card(CLARA, "peripheral"))
    qtbot.waitUntil(lambda: window.current_screen() is window.offers, timeout=3000)
    run_in_thread(lambda: bridge.on_button("neutral"))
    qtbot.waitUntil(lambda: window.current_screen() is window.thanks, timeout=3000)
    run_in_thread(lambda: bridge.on_reader_state(ReaderStatus.READER_FAULT))
    qtbot.waitUntil(lambda: "Reader: card reader fault" in window.service.text(), timeout=3000)
    assert threads == {threading.main_thread().name}  # the session and the widgets only ever ran on the UI thread
