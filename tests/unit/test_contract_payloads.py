"""The v1 contract: topics, size limit, and the fast validator agreeing with the jsonschema reference."""
from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft202012Validator

import contract
from contract.payloads import load_schema

GOOD = {
    "schema_version": "mood.v1", "store": "s001", "kiosk": "k01", "seq": 7,
    "window_start": "2026-05-04T10:00:00.000Z", "window_end": "2026-05-04T10:01:00.000Z",
    "people": 5, "counts": {"happy": 3, "neutral": 2}, "mood_index": 0.6,
    "feedback": {"happy": 1, "neutral": 0, "unhappy": 0}, "model_version": "fer-1.0", "merged_windows": 1,
}


def _variants() -> list[dict]:
    """Valid and invalid documents exercising every keyword the schema uses."""
    out = [copy.deepcopy(GOOD)]
    edits = [
        ("store", "a/b"), ("store", ""), ("kiosk", "k" * 65), ("seq", 0), ("seq", 1.5), ("people", -1),
        ("counts", {"Happy": 1}), ("counts", {"happy": -1}), ("counts", {"happy": "1"}), ("mood_index", 1.01),
        ("feedback", {"happy": 1}), ("feedback", {"happy": 1, "neutral": 0, "unhappy": 0, "x": 1}),
        ("window_start", "2026-05-04 10:00:00"), ("window_start", "2026-05-04T10:00:00+02:00"),
        ("window_end", "2026-05-04T10:01:00Z"), ("model_version", ""), ("merged_windows", 0), ("extra", 1),
        ("counts", {f"c{chr(97 + i)}": 0 for i in range(17)}),
    ]
    for key, value in edits:
        doc = copy.deepcopy(GOOD)
        doc[key] = value
        out.append(doc)
    out.append(dict(copy.deepcopy(GOOD), counts={"sad": 5}, mood_index=-1))  # the schema's lower bound, consistent
    return out


def test_fast_validator_agrees_with_jsonschema_reference() -> None:
    reference = Draft202012Validator(load_schema("mood.v1.schema.json"))
    verdicts = []
    for doc in _variants():
        expected = reference.is_valid(doc)
        try:
            contract.validate_mood(doc)
            got = True
        except contract.ContractError:
            got = False
        assert got == expected, doc
        verdicts.append(got)
    assert verdicts.count(True) >= 3 and verdicts.count(False) >= 15


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"[1, 2]", "schema"),
        (json.dumps(dict(GOOD, schema_version="mood.v2")).encode(), "schema_version"),
        (b" " * (contract.MAX_PAYLOAD_BYTES + 1), "oversized"),
        (json.dumps(dict(GOOD, window_end=GOOD["window_start"])).encode(), "schema"),
        (json.dumps(dict(GOOD, people=1)).encode(), "schema"),
        (json.dumps(dict(GOOD, mood_index=-0.6)).encode(), "schema"),  # in range, but not what the counts give
        (json.dumps(dict(GOOD, counts={"uncertain": 5}, mood_index=0.5)).encode(), "schema"),  # nobody labelled: 0
    ],
)
def test_bad_payloads_rejected_with_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(contract.ContractError) as info:
        contract.decode_mood(payload)
    assert info.value.reason == reason
    assert "\n" not in str(info.value)


def test_topic_round_trip_and_mismatch() -> None:
    topic = contract.topic_for("s001", "k01", "mood")
    assert topic == "moodkiosk/v1/s001/k01/mood"
    parts = contract.parse_topic(topic)
    assert contract.decode_mood(contract.encode(GOOD), parts)["seq"] == 7
    other = contract.parse_topic("moodkiosk/v1/s002/k01/mood")
    with pytest.raises(contract.ContractError) as info:
        contract.decode_mood(contract.encode(GOOD), other)
    assert info.value.reason == "topic_mismatch"
    for bad in ("moodkiosk/v1/s001/mood", "moodkiosk/v2/s001/k01/mood", "moodkiosk/v1/s 1/k01/mood",
                "moodkiosk/v1/s001/k01/video"):
        with pytest.raises(contract.ContractError):
            contract.parse_topic(bad)
    assert contract.shared_subscription("collectors", "mood") == "$share/collectors/moodkiosk/v1/+/+/mood"


def test_health_document() -> None:
    doc = {"schema_version": "health.v1", "store": "s001", "kiosk": "k01", "sent_at": "2026-05-04T10:00:00Z",
           "uptime_s": 12.5, "spool_depth": 0, "spool_dropped": 0, "fps": 14.8, "camera": "up"}
    assert contract.decode_health(contract.encode(doc))["fps"] == 14.8
    with pytest.raises(contract.ContractError):
        contract.validate_health(dict(doc, frame=[1, 2, 3]))
