"""Status-light state machine: a persistent base state, short flashes over it, and a blinking
'no host' that wins over the base while the kiosk is silent."""

from app.clock import plain_diff

COLORS = {
    "idle": (0, 0, 48),
    "card": (0, 255, 0),
    "feedback": (255, 255, 255),
    "error": (255, 0, 0),
    "nohost": (255, 80, 0),
    "private": (120, 0, 200),  # a shopper switched mood reading off: the camera analyses nothing
}
OFF = (0, 0, 0)
FLASHES = ("card", "feedback")


class Led:
    """`command(state, now)` for host commands and local events; `color(now)` gives the RGB to show."""

    def __init__(self, flash_ms=1500, blink_ms=500, diff=plain_diff):
        self._flash_ms = flash_ms
        self._blink_ms = blink_ms
        self._diff = diff
        self.base = "nohost"
        self.host_ok = False
        self.fault = False
        self._flash = None
        self._flash_at = 0

    def command(self, state, now):
        if state not in COLORS:
            raise ValueError("unknown LED state")
        if state in FLASHES:
            self._flash = state
            self._flash_at = now
        else:
            self.base = state
            self._flash = None

    def host_command(self, state, now):
        """The kiosk's wish (`LED` frame). Its flashes mean the screen moved on, so they also set the base
        back to idle: a red `error` must not outlive the card-error screen under a later green flash."""
        self.command(state, now)
        if state in FLASHES:
            self.base = "idle"

    def state(self, now):
        """The state shown now, by priority: flash > reader fault > no host > base."""
        if self._flash is not None:
            if self._diff(now, self._flash_at) < self._flash_ms:
                return self._flash
            self._flash = None
        if self.fault:
            return "error"
        if not self.host_ok:
            return "nohost"
        if self.base == "nohost":
            return "idle"
        return self.base

    def color(self, now):
        state = self.state(now)
        if state == "nohost" and (now // self._blink_ms) % 2:
            return OFF
        return COLORS[state]
