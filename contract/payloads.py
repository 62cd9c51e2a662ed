"""Encode and validate v1 payloads against the versioned JSON Schemas shipped beside this module."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Mapping

import fastjsonschema
from jsonschema import Draft202012Validator

from contract.errors import ContractError
from contract.topics import TopicParts

MOOD_SCHEMA_VERSION = "mood.v1"
HEALTH_SCHEMA_VERSION = "health.v1"
# Largest payload either side accepts; a v1 mood window is ~400 bytes, so this leaves ample room.
MAX_PAYLOAD_BYTES = 4096


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    """One shipped schema file ("mood.v1.schema.json", "health.v1.schema.json"), checked against its metaschema."""
    schema = json.loads(resources.files("contract").joinpath(name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


@lru_cache(maxsize=None)
def _validator(name: str) -> Callable[[Any], Any]:
    """The schema compiled to Python by fastjsonschema: ~15 us a window against ~200 us with jsonschema's
    interpreter, which matters at fleet ingest rates. tests/unit/test_contract.py checks both agree."""
    return fastjsonschema.compile(load_schema(name))


def format_utc(moment: datetime) -> str:
    """ISO 8601 UTC with a trailing Z, the only time form the contract uses."""
    if moment.tzinfo is None:
        raise ContractError("schema", f"time {moment!r} has no time zone; the contract needs UTC")
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    """Parse a contract time string (already schema-checked) to an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def encode(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, checked against the size limit so a sender never emits what receivers reject."""
    data = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ContractError("oversized", f"payload of {len(data)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")
    return data


def _load(payload: bytes) -> Any:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractError("oversized", f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError("malformed_json", f"payload is not UTF-8 JSON: {exc}") from None


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
    if parse_utc(doc["window_end"]) <= parse_utc(doc["window_start"]):
        raise ContractError("schema", f"window_end {doc['window_end']} is not after window_start {doc['window_start']}")
    if sum(doc["counts"].values()) > doc["people"]:
        raise ContractError("schema", f"counts add up to {sum(doc['counts'].values())}, more than people={doc['people']}")
    _match_topic(doc, topic)
    return doc


def validate_health(document: Any, topic: TopicParts | None = None) -> dict[str, Any]:
    """Return the health document when it follows health.v1 (and names the topic's store/kiosk), else raise."""
    doc = _check(document, HEALTH_SCHEMA_VERSION, "health.v1.schema.json")
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
