"""Topic names of the v1 contract: moodkiosk/v1/<store>/<kiosk>/{status,mood,health,offers}."""
from __future__ import annotations

import re
from dataclasses import dataclass

from contract.errors import ContractError

TOPIC_ROOT = "moodkiosk/v1"
KINDS = ("status", "mood", "health", "offers")
STATUS_ONLINE = "online"
STATUS_OFFLINE = "offline"
# Store and kiosk ids: safe in a topic level, a URL and a file name (no '/', '+', '#', spaces).
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class TopicParts:
    """The ids and message kind a v1 topic names."""

    store: str
    kiosk: str
    kind: str


def validate_id(value: str, what: str = "id") -> str:
    """Return `value` when it is a valid store/kiosk id, else raise ContractError naming `what`."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):  # `$` alone lets "k1\n" through
        raise ContractError(
            "topic", f"{what} {value!r} is not a valid id (1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit)"
        )
    return value


def topic_for(store: str, kiosk: str, kind: str) -> str:
    """The topic one kiosk publishes `kind` ("status", "mood" or "health") on."""
    if kind not in KINDS:
        raise ContractError("topic", f"topic kind {kind!r} is not one of {', '.join(KINDS)}")
    return f"{TOPIC_ROOT}/{validate_id(store, 'store')}/{validate_id(kiosk, 'kiosk')}/{kind}"


def parse_topic(topic: str) -> TopicParts:
    """Split a v1 topic into store, kiosk and kind; raise ContractError for anything else."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != TOPIC_ROOT or parts[4] not in KINDS:
        raise ContractError("topic", f"topic {topic!r} is not {TOPIC_ROOT}/<store>/<kiosk>/{{{','.join(KINDS)}}}")
    return TopicParts(validate_id(parts[2], "store"), validate_id(parts[3], "kiosk"), parts[4])


def shared_subscription(group: str, kind: str, store: str = "+") -> str:
    """MQTT 5 shared subscription so several collectors in `group` split the fleet's `kind` messages."""
    validate_id(group, "subscription group")
    if kind not in KINDS:
        raise ContractError("topic", f"topic kind {kind!r} is not one of {', '.join(KINDS)}")
    if store != "+":
        validate_id(store, "store")
    return f"$share/{group}/{TOPIC_ROOT}/{store}/+/{kind}"
