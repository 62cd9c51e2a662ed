"""Errors of the model tools whose message is meant for the operator."""


class ModelError(Exception):
    """Base of operator-facing model errors: missing/corrupt model file, broken contract, bad data file."""
