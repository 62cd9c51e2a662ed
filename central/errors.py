"""Errors of the central server whose message is meant for the operator."""


class CentralError(Exception):
    """Base of operator-facing central errors: bad database URL, unreachable broker at start."""
