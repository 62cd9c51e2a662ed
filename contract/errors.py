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
    "time",  # not a real calendar instant, or outside the plausible range around the receive time
    "replay",  # an older or reused seq with other content, or seq order that disagrees with time order
    "overlap",  # the window overlaps one already stored for the same kiosk
    "pruned",  # the window starts where the kiosk's raw windows were pruned: it cannot be judged any more
    "overloaded",  # a QoS 0 message (no flow control) while the receiver's backlog is full: dropped, counted
    "internal",  # the receiver failed on the message (a bug); counted, kept in the dead-letter table
    "store_failed",  # the database refused this one row (not a transient error); kept in the dead-letter table
)


class ContractError(ValueError):
    """A topic or payload that does not follow the v1 contract; `reason` is one of REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
