"""The MQTT contract (v1) shared by kiosk and central: topics, JSON Schemas and their validation."""
from contract.broker import (DEFAULT_BROKER_URL, MQTT_PORT, MQTTS_PORT, BrokerUrl, BrokerUrlError, CaFileError,
                             check_ca_file, parse_broker_url)
from contract.errors import ContractError
from contract.payloads import (
    HEALTH_SCHEMA_VERSION,
    MAX_PAYLOAD_BYTES,
    MOOD_SCHEMA_VERSION,
    decode_health,
    decode_mood,
    encode,
    format_utc,
    load_json,
    parse_utc,
    validate_health,
    validate_mood,
)
from contract.mood import FEEDBACK_FACES, Feedback, MoodDocument, TimeBounds
from contract.topics import (
    ID_PATTERN,
    KINDS,
    STATUS_OFFLINE,
    STATUS_ONLINE,
    TOPIC_ROOT,
    TopicParts,
    parse_topic,
    shared_subscription,
    topic_for,
    validate_id,
)

__all__ = [
    "BrokerUrl", "BrokerUrlError", "CaFileError", "check_ca_file", "DEFAULT_BROKER_URL", "parse_broker_url", "ID_PATTERN", "MQTT_PORT",
    "MQTTS_PORT",
    "ContractError", "HEALTH_SCHEMA_VERSION", "MAX_PAYLOAD_BYTES", "MOOD_SCHEMA_VERSION", "decode_health",
    "decode_mood", "encode", "format_utc", "parse_utc", "validate_health", "validate_mood", "KINDS",
    "STATUS_OFFLINE", "STATUS_ONLINE", "TOPIC_ROOT", "TopicParts", "parse_topic", "shared_subscription",
    "topic_for", "validate_id", "FEEDBACK_FACES", "Feedback", "MoodDocument", "TimeBounds", "load_json",
]
