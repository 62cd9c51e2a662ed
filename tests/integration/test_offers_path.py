"""offers.v1 end to end: kiosk OfferStats -> TelemetryPublisher -> real mosquitto -> collector -> SQLite -> API.
A malformed or not k-anonymous report is a counted rejection; an older report never replaces a newer one."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from central.offers_store import store_offer_days
from contract.offers import OfferCount, OffersDay
from helpers.central import PASSWORD, CentralServer, wait_until
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)
from kiosk.services.offer_stats import OfferStats
from kiosk.services.records import Offer
from kiosk.config import MqttConfig
from kiosk.services.spool import Spool
from kiosk.services.telemetry import TelemetryPublisher
from kiosk.session import SessionView, State

pytestmark = pytest.mark.timeout(90)
DAY = datetime.now(timezone.utc).date() - timedelta(days=2)  # a day the kiosk still keeps when it reports now


def test_offer_days_reach_central_and_bad_ones_are_rejected(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    central = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path).start()
    publisher = TelemetryPublisher(MqttConfig(url=mosquitto.url, health_interval_s=3600), "s1", "k1",
                                   Spool(tmp_path / "spool.sqlite", 100))
    try:
        publisher.start()
        wait_until(lambda: publisher.state.connection == "connected", 10, "kiosk connected")
        stats = OfferStats(tmp_path / "offer_stats.sqlite", "s1", "k1", k=3, today=lambda: DAY)
        offers = (Offer("o1", "Coffee", "star", 399, None, DAY, "coffee", "why", "repurchase"),)
        for seq in range(0, 40, 4):  # ten card sessions, each ending with a 😊 on the feedback screen
            stats.on_view(SessionView(State.OFFERS, seq, "en", "x", offers=offers))
            stats.on_view(SessionView(State.FEEDBACK, seq + 1, "en", "x"))
            stats.on_feedback("happy")
            stats.on_view(SessionView(State.THANKS, seq + 2, "en", "x"))
        publisher.publish_offers(stats.reports())
        wait_until(lambda: store_offer_days(central.store, "s1", DAY, DAY) != [], 10, "offers day stored")
        [stored] = store_offer_days(central.store, "s1", DAY, DAY)
        assert (stored.card_sessions, stored.shown_by_rule, stored.feedback_after_offers["happy"]) == (
            10, {"repurchase": 10}, 10)

        # An older report delivered late (reordering, redelivery) does not replace the newer counts.
        older = replace(stats.reports()[0], sent_at=datetime.combine(DAY, time(9), timezone.utc), card_sessions=3,
                        offers_shown=(OfferCount("repurchase", "coffee", 3),))
        marker = replace(stats.reports()[0], day=DAY + timedelta(days=1))  # sent after it on the same connection
        publisher.publish_offers([older, marker])
        wait_until(lambda: store_offer_days(central.store, "s1", marker.day, marker.day) != [], 10, "marker stored")
        [kept] = store_offer_days(central.store, "s1", DAY, DAY)
        assert kept.card_sessions == 10

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        raw = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        raw.connect("127.0.0.1", mosquitto.port)
        raw.loop_start()
        doc = stats.reports()[0].to_document()
        not_anonymous = dict(doc, sessions={"card": 1, "guest": 0})
        raw.publish("moodkiosk/v1/s1/k1/offers", json.dumps(not_anonymous), qos=1).wait_for_publish(5)
        raw.publish("moodkiosk/v1/s1/k1/offers", b"{not json", qos=1).wait_for_publish(5)
        raw.publish("moodkiosk/v1/s2/k1/offers", json.dumps(doc), qos=1).wait_for_publish(5)  # wrong topic
        # dated in the future, it would stay the day's newest report for good and freeze the day's counts
        from_the_future = dict(doc, sent_at="2100-01-01T00:00:00Z", sessions=dict(doc["sessions"], card=999))
        raw.publish("moodkiosk/v1/s1/k1/offers", json.dumps(from_the_future), qos=1).wait_for_publish(5)
        raw.loop_stop()
        raw.disconnect()
        wait_until(lambda: central.collector.stats.snapshot()["rejected_total"] == 4, 10, "four rejections")
        assert central.collector.stats.snapshot()["rejected"] == {"schema": 1, "malformed_json": 1,
                                                                  "topic_mismatch": 1, "time": 1}
        assert store_offer_days(central.store, "s1", DAY, DAY)[0].card_sessions == 10

        client = httpx.Client(base_url=central.http, timeout=10)
        assert client.post("/api/login", json={"username": "s1mgr", "password": PASSWORD}).status_code == 200
        body = client.get("/api/stores/s1/offers", params={"from": DAY.isoformat(), "to": DAY.isoformat()}).json()
        assert body["days"] == [{"day": DAY.isoformat(), "kiosks": 1, "card_sessions": 10, "guest_sessions": 0,
                                 "offers_shown": 10, "shown_by_rule": {"repurchase": 10},
                                 "shown_by_category": {"coffee": 10},
                                 "feedback_after_offers": {"happy": 10, "neutral": 0, "unhappy": 0},
                                 "suppressed_counts": 0}]
        assert client.get("/api/stores/s1/offers", params={"from": "2026-05-05", "to": "2026-05-01"}).status_code == 422
        assert client.get("/api/stores/s2/offers", params={"from": "2026-05-01", "to": "2026-05-01"}).status_code == 403
    finally:
        publisher.stop()
        central.stop()
