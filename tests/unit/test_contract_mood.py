"""The typed mood.v1 document: tied to the JSON Schema, round-trips, and decodes any bytes totally."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contract
from contract.payloads import load_schema
from helpers.windows import T0, mood, window

NOW = T0 + timedelta(days=1)
TOPIC = contract.parse_topic("moodkiosk/v1/s1/k1/mood")


def _good() -> dict:
    return mood("s1", "k1", 7, 3).as_json()


def _decode(doc: object, received_at: datetime | None = NOW) -> contract.MoodDocument:
    return contract.MoodDocument.decode(json.dumps(doc).encode(), TOPIC, received_at)


def test_fields_are_the_schema_properties() -> None:
    schema = load_schema("mood.v1.schema.json")
    fields = {f.name for f in dataclasses.fields(contract.MoodDocument)}
    assert fields == set(schema["properties"]) == set(schema["required"])
    feedback = schema["properties"]["feedback"]
    assert {f.name for f in dataclasses.fields(contract.Feedback)} == set(feedback["required"])
    assert tuple(feedback["required"]) == contract.FEEDBACK_FACES


def test_window_round_trips_through_encode_and_decode() -> None:
    doc = contract.MoodDocument.from_window("s1", "k1", 7, window(3), {"unhappy": 2}, "fer-2")
    back = contract.MoodDocument.decode(doc.encode(), TOPIC, NOW)
    assert back == doc
    assert back.feedback == contract.Feedback(unhappy=2)
    assert json.loads(doc.encode())["window_start"].endswith("Z")


@pytest.mark.parametrize("when", ["2026-02-30T10:00:00.000Z", "2026-05-04T24:00:00Z", "2026-13-01T10:00:00Z",
                                  "0000-01-01T10:00:00Z", "2026-05-04T10:60:00Z"])
def test_impossible_calendar_dates_are_rejected_as_time(when: str) -> None:
    with pytest.raises(contract.ContractError) as err:
        _decode(dict(_good(), window_start=when))
    assert err.value.reason == "time"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_rejected_at_parsing(number: str) -> None:
    payload = json.dumps(_good()).replace('"mood_index": ' + json.dumps(_good()["mood_index"]),
                                          '"mood_index": ' + number).encode()
    assert number.encode() in payload
    with pytest.raises(contract.ContractError) as err:
        contract.MoodDocument.decode(payload, TOPIC, NOW)
    assert err.value.reason == "malformed_json"


@pytest.mark.parametrize(("key", "value"), [("seq", 7.0), ("people", True), ("merged_windows", 1.0),
                                            ("counts", {"happy": 1.0}), ("feedback", {"happy": True, "neutral": 0,
                                                                                      "unhappy": 0})])
def test_integer_fields_must_be_integers(key: str, value: object) -> None:
    with pytest.raises(contract.ContractError) as err:
        _decode(dict(_good(), **{key: value}))
    assert err.value.reason == "schema"


@pytest.mark.parametrize("payload", [
    b'{"seq": 1, "seq": 2}', b"[" * 2040 + b"]" * 2040, b'{"model_version": "a\\u0000b"}',
    b'{"model_version": "\\ud800"}', b"\xed\xa0\x80", "9" * 4090,
])
def test_hostile_json_is_malformed_json(payload: bytes | str) -> None:
    data = payload if isinstance(payload, bytes) else payload.encode()
    with pytest.raises(contract.ContractError) as err:
        contract.MoodDocument.decode(data, TOPIC, NOW)
    assert err.value.reason in ("malformed_json", "schema")


def test_times_must_lie_in_the_plausible_range_around_receipt() -> None:
    far = dict(_good(), window_start="9999-12-31T23:58:00Z", window_end="9999-12-31T23:59:00Z")
    old = dict(_good(), window_start="2001-01-01T10:00:00Z", window_end="2001-01-01T10:01:00Z")
    for doc in (far, old):
        with pytest.raises(contract.ContractError) as err:
            _decode(doc)
        assert err.value.reason == "time"
    # a kiosk back after a 200-day outage still delivers its spool; a tighter setting refuses it
    late = NOW + timedelta(days=200)
    assert _decode(_good(), late).seq == 7
    with pytest.raises(contract.ContractError):
        contract.MoodDocument.decode(json.dumps(_good()).encode(), TOPIC, late,
                                     contract.TimeBounds(max_age=timedelta(days=30)))


def _mutations() -> st.SearchStrategy:
    """A valid document with one field replaced, added or removed, or its bytes cut, flipped or padded."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                        st.text(max_size=30), st.sampled_from(["2026-02-30T10:00:00Z", "9999-12-31T23:59:59Z",
                                                               "0000-01-01T00:00:00Z", "2026-05-04T10:00:00+00:00"]))
    values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                          max_leaves=8)
    keys = st.sampled_from(sorted(_good()) + ["extra", "counts.happy", "feedback.happy"])

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        doc = _good()
        for _ in range(draw(st.integers(1, 3))):
            key = draw(keys)
            if "." in key:
                outer, inner = key.split(".")
                base = doc.get(outer)
                doc[outer] = dict(base if isinstance(base, dict) else {}, **{inner: draw(values)})
            elif draw(st.booleans()) and key in doc:
                del doc[key]
            else:
                doc[key] = draw(values)
        data = json.dumps(doc, allow_nan=True).encode()
        edit = draw(st.sampled_from(["none", "cut", "flip", "pad"]))
        if edit == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        elif edit == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
        elif edit == "pad":
            data += draw(st.binary(max_size=5000))
        return data

    return build()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_decoding_mutated_documents_raises_only_the_contract_error(payload: bytes) -> None:
    try:
        doc = contract.MoodDocument.decode(payload, TOPIC, NOW)
    except contract.ContractError as exc:
        assert exc.reason in contract.errors.REASONS
        return
    # what decodes is a fully valid value: it encodes again and decodes to itself
    assert contract.MoodDocument.decode(doc.encode(), TOPIC, NOW) == doc
    assert doc.window_end > doc.window_start and sum(doc.counts.values()) <= doc.people


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_decoding_any_bytes_raises_only_the_contract_error(payload: bytes) -> None:
    for decode in (lambda p: contract.MoodDocument.decode(p, TOPIC, NOW), contract.decode_health):
        try:
            decode(payload)
        except contract.ContractError:
            pass


def test_health_rejects_non_finite_and_impossible_times() -> None:
    good = {"schema_version": "health.v1", "store": "s1", "kiosk": "k1", "sent_at": "2026-05-04T10:00:00Z",
            "uptime_s": 5, "spool_depth": 0, "spool_dropped": 0}
    assert contract.decode_health(json.dumps(good).encode())["uptime_s"] == 5
    for bad, reason in ((b'"fps": NaN', "malformed_json"), (b'"fps": 1e999', "malformed_json")):
        payload = json.dumps(good).encode()[:-1] + b", " + bad + b"}"
        with pytest.raises(contract.ContractError) as err:
            contract.decode_health(payload)
        assert err.value.reason == reason
    with pytest.raises(contract.ContractError) as err:
        contract.decode_health(json.dumps(dict(good, sent_at="2026-02-30T10:00:00Z")).encode())
    assert err.value.reason == "time"
