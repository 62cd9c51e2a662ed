"""The real vision pipeline feeding the kiosk: a loyalty-app QR code in the camera frames, a camera that is gone."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers.kiosk_ui import CLARA, wedge_scan
from kiosk.app import VISION_NICE
from helpers.vision_settings import plain_settings

pytestmark = pytest.mark.timeout(120)


def qr_frames(folder: Path, text: str, count: int = 6) -> Path:
    """An image folder whose frames show `text` as a QR code, like a phone held up to the kiosk camera."""
    folder.mkdir(parents=True, exist_ok=True)
    code = cv2.QRCodeEncoder.create().encode(text)  # 1 px per module, black on white
    code = cv2.resize(code, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    for i in range(count):
        frame = np.full((480, 640, 3), 200, np.uint8)
        y, x = 60 + 4 * i, 180 + 6 * i  # the hand moves a little
        frame[y:y + code.shape[0], x:x + code.shape[1]] = code[:, :, None]
        cv2.imwrite(str(folder / f"frame_{i:03d}.png"), frame)
    return folder


def test_qr_code_in_the_camera_frames_opens_offers(qtbot, make_config, start_app, tmp_path):
    folder = qr_frames(tmp_path / "frames", f"moodkiosk:card:{CLARA}")
    settings = plain_settings({"source": str(folder), "qr": True}, qr_every_n=1, realtime_files=True, folder_fps=10)
    app = start_app(make_config(camera={"enabled": True}), vision=settings)
    w = app.window
    assert app.vision is not None
    workers = [t for t in threading.enumerate() if t.name == "vision-worker"]
    assert workers and all(os.getpriority(os.PRIO_PROCESS, t.native_id) >= VISION_NICE for t in workers)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < VISION_NICE  # the UI thread keeps its own
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=20000)
    assert w.offers.greeting.text() == "Hello Clara!"
    qtbot.waitUntil(lambda: "Camera: input ended" in w.service.text(), timeout=20000)


@pytest.mark.parametrize("source, state", [("9", "Camera: not available – retrying"), ("missing.mp4", "Camera: input ended")],
                         ids=["unplugged-camera", "missing-file"])
def test_camera_trouble_is_reported_and_cards_still_work(qtbot, make_config, start_app, tmp_path, source, state):
    spec = source if source.isdigit() else str(tmp_path / source)
    settings = plain_settings({"source": spec}, reconnect_initial_s=0.2, open_timeout_s=1.0)
    app = start_app(make_config(camera={"enabled": True}), vision=settings)
    w = app.window
    qtbot.waitUntil(lambda: state in w.service.text(), timeout=20000)
    assert w.notice.text().startswith("This kiosk's camera estimates moods")
    assert w.attract.mood_level.text() == "Mood reading unavailable" and w.attract.people.isHidden()
    wedge_scan(w, CLARA)
    qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
