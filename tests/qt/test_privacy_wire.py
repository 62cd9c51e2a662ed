"""What leaves the device: the real kiosk (camera on the demo clip, a loyalty shopper, a pause) publishing to a
real Mosquitto; every message on every topic is captured raw and checked against the contract and for identity."""
from __future__ import annotations

import json
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.payloads import decode_health, decode_mood, load_schema
from contract.topics import parse_topic
from helpers.kiosk_ui import CLARA, wedge_scan
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)
from kiosk.services.cards import CardHasher

pytestmark = pytest.mark.timeout(90)
HASH_KEY = "test-key-for-the-qt-tests-0123456789"  # the make_config fixture's key


def test_only_anonymous_counts_leave_the_kiosk(qtbot, make_config, start_app, clock, mosquitto):  # noqa: F811
    messages: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="privacy-wire-listener")
    client.on_connect = lambda c, *_: c.subscribe("#", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, m: messages.append((m.topic, bytes(m.payload)))
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    assert subscribed.wait(5)
    try:
        app = start_app(make_config(
            store_id="s1", kiosk_id="k1", camera={"enabled": True, "source": "demo"},
            mood={"window_seconds": 5, "k_anonymity": 1}, offers={"mood_reorder": True},
            mqtt={"enabled": True, "url": mosquitto.url, "health_interval_s": 5},
        ))
        w = app.window
        qtbot.waitUntil(lambda: "Broker: connected" in w.service.text(), timeout=10000)
        wedge_scan(w, CLARA)
        qtbot.waitUntil(lambda: w.current_screen() is w.offers, timeout=3000)
        w.offers.mood_opt_in.click()
        w.offers.no_mood.click()
        w.offers.done.click()
        w.feedback.buttons["happy"].click()
        clock.advance(5)  # the thank-you ends ...
        qtbot.waitUntil(lambda: w.current_screen() is w.attract, timeout=3000)
        clock.advance(121)  # ... and so does the pause, 120 s later: mood windows flow again
        qtbot.waitUntil(lambda: not app.gate.paused, timeout=10000)
        qtbot.waitUntil(lambda: any(t.endswith("/mood") for t, _ in messages)
                        and any(t.endswith("/health") for t, _ in messages), timeout=30000)
    finally:
        client.loop_stop()
        client.disconnect()
    mood_keys = set(load_schema("mood.v1.schema.json")["properties"])
    secrets = [CLARA.encode(), b"Clara", CardHasher(HASH_KEY.encode())(CLARA).encode(), CardHasher(HASH_KEY.encode())(CLARA)[5:].encode()]
    kinds = set()
    for topic, payload in messages:
        parts = parse_topic(topic)
        kinds.add(parts.kind)
        assert (parts.store, parts.kiosk) == ("s1", "k1")
        assert not any(secret in payload for secret in secrets), (topic, payload)
        if parts.kind == "mood":
            assert set(json.loads(payload)) == mood_keys  # nothing beyond the contract's anonymous counts
            decode_mood(payload, parts)
        elif parts.kind == "health":
            decode_health(payload, parts)
        else:
            assert parts.kind == "status" and payload in (b"online", b"offline")
    assert kinds <= {"mood", "health", "status"} and {"mood", "health"} <= kinds
    print(f"\n{len(messages)} messages on the wire, kinds {sorted(kinds)}: no card, name or pseudonym")
