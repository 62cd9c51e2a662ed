"""The one error of the contract: a payload or topic that breaks it, with a machine-readable reason."""
from __future__ import annotations

# Reasons a receiver counts rejects by (also the labels in the collector's statistics).
REASONS = (
    "oversized",
    "malformed_json",
    "schema_version",
    "schema",
    "topic",
    "topic_mismatch",
    "unknown_store",
)


class ContractError(ValueError):
    """A topic or payload that does not follow the v1 contract; `reason` is one of REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
