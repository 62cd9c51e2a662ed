"""offers.v1: schema and k-anonymity checked on both sides, typed round trip, clear reasons for bad documents."""
from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft202012Validator

from contract import ContractError, parse_topic, topic_for
from contract.offers import decode_offers, encode_offers, validate_offers
from contract.payloads import _validator, load_schema

GOOD = {
    "schema_version": "offers.v1", "store": "s001", "kiosk": "k01", "day": "2026-05-04",
    "sent_at": "2026-05-04T17:00:00.000Z", "k": 3, "sessions": {"card": 12, "guest": 0},
    "offers_shown": [{"rule": "repurchase", "category": "coffee", "count": 9},
                     {"rule": "popular", "category": "bakery", "count": 3}],
    "feedback_after_offers": {"happy": 4, "neutral": 0, "unhappy": 3}, "suppressed": 2,
}


def _edit(path: str, value) -> dict:
    doc = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    target = doc
    for key in parents:
        target = target[key]
    target[last] = value
    return doc


def test_round_trip_and_topic() -> None:
    day = decode_offers(json.dumps(GOOD).encode(), parse_topic(topic_for("s001", "k01", "offers")))
    assert (day.card_sessions, day.guest_sessions, day.offers_shown[0].rule, day.suppressed) == (12, 0, "repurchase", 2)
    assert json.loads(encode_offers(day)) == GOOD


@pytest.mark.parametrize("doc, reason, needle", [
    (_edit("sessions.card", 2), "schema", "below k = 3"),
    (_edit("feedback_after_offers.unhappy", 1), "schema", "below k"),
    (_edit("offers_shown", [{"rule": "popular", "category": "x", "count": 1}]), "schema", "below k"),
    (_edit("offers_shown", [{"rule": "popular", "category": "x", "count": 5}] * 2), "schema", "twice"),
    (_edit("day", "2026-02-30"), "schema", "calendar date"),
    (_edit("schema_version", "offers.v2"), "schema_version", "offers.v2"),
    (_edit("k", 1), "schema", "k"),
    (_edit("customer", "4711"), "schema", "customer"),
    (_edit("offers_shown", [{"rule": "popular", "category": "x", "count": 5, "card": "1"}]), "schema", "card"),
])
def test_bad_documents_name_the_problem(doc: dict, reason: str, needle: str) -> None:
    with pytest.raises(ContractError) as info:
        validate_offers(doc)
    assert info.value.reason == reason and needle in str(info.value)


def test_topic_mismatch_and_garbage() -> None:
    with pytest.raises(ContractError) as info:
        decode_offers(json.dumps(GOOD).encode(), parse_topic(topic_for("s002", "k01", "offers")))
    assert info.value.reason == "topic_mismatch"
    with pytest.raises(ContractError) as info:
        decode_offers(b"\xff{")
    assert info.value.reason == "malformed_json"


def test_fast_validator_agrees_with_jsonschema_reference() -> None:
    reference = Draft202012Validator(load_schema("offers.v1.schema.json"))
    fast = _validator("offers.v1.schema.json")
    docs = [GOOD, _edit("k", 1), _edit("sessions.card", -1), _edit("day", "4.5.2026"), _edit("extra", 1),
            _edit("offers_shown", [{"rule": "Popular", "category": "x", "count": 5}]),
            _edit("offers_shown", [{"rule": "p", "category": "x" * 41, "count": 5}])]
    for doc in docs:
        ok_reference = reference.is_valid(doc)
        try:
            fast(doc)
            ok_fast = True
        except Exception:
            ok_fast = False
        assert ok_fast == ok_reference, doc
