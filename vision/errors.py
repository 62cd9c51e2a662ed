"""Errors of the vision package whose message is meant for the operator."""


class VisionError(Exception):
    """Base of operator-facing vision errors: unreadable source, model that fails its contract."""
