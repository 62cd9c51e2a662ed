"""Encode and validate v1 payloads against the versioned JSON Schemas shipped beside this module."""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Mapping

import fastjsonschema
from jsonschema import Draft202012Validator

from contract.errors import ContractError
from contract.topics import TopicParts
from contract.valence import mood_index

MOOD_SCHEMA_VERSION = "mood.v1"
HEALTH_SCHEMA_VERSION = "health.v1"
# Largest payload either side accepts; a v1 mood window is ~400 bytes, so this leaves ample room.
MAX_PAYLOAD_BYTES = 4096
# The kiosk publishes the index of its counts rounded to 4 decimals; central sums mood_index * people, so an
# index that does not follow from the counts (a bug, or a forged window) would skew every aggregate it joins.
MOOD_INDEX_TOLERANCE = 0.0005


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    """One shipped schema file ("mood.v1.schema.json", "health.v1.schema.json"), checked against its metaschema."""
    schema = json.loads(resources.files("contract").joinpath(name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


@lru_cache(maxsize=None)
def _validator(name: str) -> Callable[[Any], Any]:
    """The schema compiled to Python by fastjsonschema: ~15 us a window against ~200 us with jsonschema's
    interpreter, which matters at fleet ingest rates. tests/unit/test_contract_payloads.py checks both agree."""
    return fastjsonschema.compile(load_schema(name))


def format_utc(moment: datetime) -> str:
    """ISO 8601 UTC with a trailing Z, the only time form the contract uses."""
    if moment.tzinfo is None:
        raise ContractError("schema", f"time {moment!r} has no time zone; the contract needs UTC")
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text: str, what: str = "time") -> datetime:
    """A contract time string (already schema-checked) as an aware UTC datetime; an impossible calendar
    date (month 13, 30 February, hour 24, year 0000) is a ContractError("time"), never a ValueError."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("no time zone")
        return moment.astimezone(timezone.utc)
    except (ValueError, TypeError, OverflowError, AttributeError) as exc:
        raise ContractError("time", f"{what} {str(text)[:40]!r} is not a real UTC time: {exc}") from None


def encode(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, checked against the size limit so a sender never emits what receivers reject."""
    data = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ContractError("oversized", f"payload of {len(data)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")
    return data


def _reject_constant(name: str) -> Any:
    raise ContractError("malformed_json", f"payload contains {name}; the contract allows finite numbers only")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses to inf
        raise ContractError("malformed_json", f"number {text[:40]} is not finite")
    return value


def _clean_text(value: str) -> str:
    """No control characters and no lone surrogates: SQLite's UTF-8 and PostgreSQL's text/JSONB refuse them
    at insert time, which would make a valid-looking document fail only when it is stored."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise ContractError("malformed_json", f"text {value[:40]!r} contains a control character or a lone surrogate")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object with each key once (a repeated key would let two readers see two documents)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ContractError("malformed_json", f"key {key[:40]!r} appears twice")
        out[_clean_text(key)] = _clean_text(value) if isinstance(value, str) else value
    return out


def load_json(payload: Any) -> Any:
    """Size-check and parse a received payload strictly: UTF-8, finite numbers, unique keys, clean text.
    Raises only ContractError whatever the bytes are."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ContractError("malformed_json", f"payload is a {type(payload).__name__}, expected bytes")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractError("oversized", f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")
    try:
        text = bytes(payload).decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float, object_pairs_hook=_object)
    except ContractError:
        raise
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, an integer over Python's digit limit
        raise ContractError("malformed_json", f"payload is not UTF-8 JSON: {str(exc)[:120]}") from None
    except RecursionError:  # [[[[...]]]] nested past the parser's depth limit
        raise ContractError("malformed_json", "payload nests too deeply") from None


_load = load_json


def _check(document: Any, expected_version: str, schema_file: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise ContractError("schema", f"payload is a JSON {type(document).__name__}, expected an object")
    version = document.get("schema_version")
    if version != expected_version:
        raise ContractError("schema_version", f"schema_version {version!r} is not {expected_version!r}")
    try:
        _validator(schema_file)(document)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise ContractError("schema", _readable(exc.message)) from None
    return document


def _readable(message: str) -> str:
    """fastjsonschema says "data.counts must ..."; name the field, or "payload" for the whole document."""
    if message.startswith("data."):
        return message[5:]
    return "payload" + message[4:] if message.startswith("data") else message


def validate_mood(document: Any, topic: TopicParts | None = None) -> dict[str, Any]:
    """Return the mood document when it follows mood.v1 (and names the topic's store/kiosk), else raise."""
    doc = _check(document, MOOD_SCHEMA_VERSION, "mood.v1.schema.json")
    if parse_utc(doc["window_end"], "window_end") <= parse_utc(doc["window_start"], "window_start"):
        raise ContractError("schema", f"window_end {doc['window_end']} is not after window_start {doc['window_start']}")
    integers = [doc["seq"], doc["people"], doc["merged_windows"], *doc["counts"].values(), *doc["feedback"].values()]
    if any(type(value) is not int for value in integers):  # 3.0 or true where the contract says integer
        raise ContractError("schema", "seq, people, merged_windows, counts and feedback must be JSON integers")
    if not math.isfinite(doc["mood_index"]):
        raise ContractError("schema", f"mood_index is {doc['mood_index']}; the contract allows finite numbers only")
    if sum(doc["counts"].values()) > doc["people"]:
        raise ContractError("schema", f"counts add up to {sum(doc['counts'].values())}, more than people={doc['people']}")
    expected = mood_index(doc["counts"])
    if abs(doc["mood_index"] - (0.0 if expected is None else expected)) > MOOD_INDEX_TOLERANCE:
        raise ContractError("schema", f"mood_index {doc['mood_index']} does not follow from counts (they give "
                                      f"{0.0 if expected is None else expected:.4f})")
    _match_topic(doc, topic)
    return doc


def validate_health(document: Any, topic: TopicParts | None = None) -> dict[str, Any]:
    """Return the health document when it follows health.v1 (and names the topic's store/kiosk), else raise."""
    doc = _check(document, HEALTH_SCHEMA_VERSION, "health.v1.schema.json")
    parse_utc(doc["sent_at"], "sent_at")
    for key, value in doc.items():  # validate_health may be given a document built in code, not parsed
        if isinstance(value, float) and not math.isfinite(value):
            raise ContractError("schema", f"{key} is {value}; the contract allows finite numbers only")
    _match_topic(doc, topic)
    return doc


def _match_topic(doc: Mapping[str, Any], topic: TopicParts | None) -> None:
    if topic is not None and (doc["store"], doc["kiosk"]) != (topic.store, topic.kiosk):
        raise ContractError(
            "topic_mismatch",
            f"payload names store/kiosk {doc['store']}/{doc['kiosk']} but came on the topic of {topic.store}/{topic.kiosk}",
        )


def decode_mood(payload: bytes, topic: TopicParts | None = None) -> dict[str, Any]:
    """Size-check, parse and validate a received mood payload."""
    return validate_mood(_load(payload), topic)


def decode_health(payload: bytes, topic: TopicParts | None = None) -> dict[str, Any]:
    """Size-check, parse and validate a received health payload."""
    return validate_health(_load(payload), topic)
