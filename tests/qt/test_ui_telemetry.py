"""Feedback pressed on screen goes out with the next mood window over a real Mosquitto; the service line follows the broker."""
from __future__ import annotations

import json
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from PySide6.QtCore import Qt

from helpers.kiosk_ui import CLARA, wedge_scan
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)
from helpers.windows import window


def subscribe(broker: MosquittoBroker, topic: str) -> tuple[mqtt.Client, list[dict], threading.Event]:
    received: list[dict] = []
    got = threading.Event()
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="qt-test-listener")
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()

    def on_message(_client, _userdata, message) -> None:
        received.append(json.loads(message.payload))
        got.set()

    client.on_message = on_message
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    assert subscribed.wait(5)
    return client, received, got


def test_feedback_counts_ride_on_the_next_window(qtbot, make_config, start_app, mosquitto):  # noqa: F811
    listener, received, got = subscribe(mosquitto, "moodkiosk/v1/+/+/mood")
    try:
        app = start_app(make_config(store_id="s7", kiosk_id="k2", mood={"k_anonymity": 1},
                                    mqtt={"enabled": True, "url": mosquitto.url}))
        w = app.window
        qtbot.waitUntil(lambda: "Broker: connected" in w.service.text(), timeout=10000)

        wedge_scan(w, CLARA)
        qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
        qtbot.mouseClick(w.offers.done, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(w.feedback.buttons["unhappy"], Qt.MouseButton.LeftButton)
        assert w.current_screen() is w.thanks

        # the vision pipeline closes a window on its own thread
        closer = threading.Thread(target=app.on_window, args=(window(0),))
        closer.start()
        closer.join(5)
        assert got.wait(10), "no mood window arrived"
        doc = received[0]
        assert (doc["store"], doc["kiosk"]) == ("s7", "k2")
        assert doc["feedback"] == {"happy": 0, "neutral": 0, "unhappy": 1}
        assert CLARA not in json.dumps(doc) and "Clara" not in json.dumps(doc)
        assert app.feedback.take() == {"happy": 0, "neutral": 0, "unhappy": 0}  # counted once, then reset

        mosquitto.kill()
        qtbot.waitUntil(lambda: "Broker: offline" in w.service.text(), timeout=10000)
    finally:
        listener.loop_stop()
        listener.disconnect()


def test_without_a_camera_feedback_goes_out_in_feedback_only_windows(qtbot, make_config, start_app, mosquitto):  # noqa: F811
    listener, received, got = subscribe(mosquitto, "moodkiosk/v1/+/+/mood")
    try:
        app = start_app(make_config(store_id="s7", kiosk_id="k3", mood={"window_seconds": 5, "k_anonymity": 2},
                                    mqtt={"enabled": True, "url": mosquitto.url}))
        w = app.window
        assert app.vision is None
        qtbot.waitUntil(lambda: "Broker: connected" in w.service.text(), timeout=10000)

        def shopper_presses(face: str) -> None:
            wedge_scan(w, CLARA)
            qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
            qtbot.mouseClick(w.offers.done, Qt.MouseButton.LeftButton)
            qtbot.mouseClick(w.feedback.buttons[face], Qt.MouseButton.LeftButton)
            qtbot.mouseClick(w.thanks, Qt.MouseButton.LeftButton)  # back to the attract screen

        # Before: one press went out alone in its own 5 s window, which tells who pressed what at a quiet kiosk.
        shopper_presses("happy")
        qtbot.wait(7000)  # the event loop runs: the 5 s window clock closes a window (and sends nothing)
        assert not got.is_set(), "a single press was published below k = 2"
        shopper_presses("unhappy")
        qtbot.waitUntil(got.is_set, timeout=12000)  # the 5 s window clock, run by the UI thread's timer
        doc = received[0]
        assert doc["feedback"] == {"happy": 1, "neutral": 0, "unhappy": 1}
        assert (doc["people"], doc["counts"], doc["kiosk"]) == (0, {}, "k3")
        qtbot.wait(5500)
        assert len(received) == 1, "a window without presses was sent"
    finally:
        listener.loop_stop()
        listener.disconnect()


def test_offer_counts_leave_the_kiosk_k_anonymous(qtbot, make_config, start_app, mosquitto):  # noqa: F811
    """Three card shoppers see offers and press ☹️: the kiosk reports 3 card sessions, the offers shown and
    3 presses after offers as offers.v1, with no card number or name in it."""
    listener, received, got = subscribe(mosquitto, "moodkiosk/v1/+/+/offers")
    try:
        app = start_app(make_config(store_id="s7", kiosk_id="k2", mqtt={"enabled": True, "url": mosquitto.url}))
        w = app.window
        qtbot.waitUntil(lambda: "Broker: connected" in w.service.text(), timeout=10000)
        assert not got.wait(0.5)  # nothing counted yet: nothing sent at start
        shown = 0
        for _ in range(3):
            wedge_scan(w, CLARA)
            qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
            shown += len(app.session.view.offers)
            qtbot.mouseClick(w.offers.done, Qt.MouseButton.LeftButton)
            qtbot.mouseClick(w.feedback.buttons["unhappy"], Qt.MouseButton.LeftButton)
            assert w.current_screen() is w.thanks
        app._send_offer_stats()  # what the 15-minute timer does
        qtbot.waitUntil(lambda: got.is_set(), timeout=10000)
        doc = received[-1]
        assert (doc["schema_version"], doc["store"], doc["kiosk"], doc["k"]) == ("offers.v1", "s7", "k2", 3)
        assert doc["sessions"] == {"card": 3, "guest": 0}
        assert doc["feedback_after_offers"] == {"happy": 0, "neutral": 0, "unhappy": 3}
        assert sum(o["count"] for o in doc["offers_shown"]) + doc["suppressed"] > 0
        assert sum(o["count"] for o in doc["offers_shown"]) <= shown
        assert all(o["count"] >= 3 for o in doc["offers_shown"])
        text = json.dumps(doc)
        assert CLARA not in text and "Clara" not in text
    finally:
        listener.loop_stop()
        listener.disconnect()
