"""Turns the reader's repeated sightings of a card into taps: a card held on the reader is one tap."""

from app.clock import plain_diff


def uid_hex(uid):
    """UID bytes as upper-case hex, the form that goes on the wire."""
    return "".join(["%02X" % b for b in uid])


class CardTap:
    """A UID counts as a new tap when it differs from the last one or was not seen for `gone_ms`
    (so a missed poll while the card is held does not make a second tap)."""

    def __init__(self, gone_ms=800, diff=plain_diff):
        self._gone_ms = gone_ms
        self._diff = diff
        self._last = None
        self._last_seen = None

    def seen(self, uid, now):
        """Feed one poll result (UID bytes or None); returns the UID hex of a new tap, or None."""
        if uid is None:
            return None
        uid = bytes(uid)
        fresh = (
            uid != self._last
            or self._last_seen is None
            or self._diff(now, self._last_seen) > self._gone_ms
        )
        self._last = uid
        self._last_seen = now
        return uid_hex(uid) if fresh else None
