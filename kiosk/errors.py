"""Errors of the kiosk whose message is meant for the operator (printed as one line, no traceback)."""


class KioskError(Exception):
    """Base of operator-facing kiosk errors: bad config, bad import file, unusable card reader."""
