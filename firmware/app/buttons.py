"""Debounced feedback buttons with a lock-out so one visit gives one press, not a burst."""

from app.clock import plain_diff


class Debounced:
    """One button: the level must hold `stable_ms` before it counts; reports only the press edge."""

    def __init__(self, stable_ms=25, diff=plain_diff):
        self._stable_ms = stable_ms
        self._diff = diff
        self.pressed = False
        self._raw = False
        self._raw_since = None

    def update(self, raw, now):
        """Feed the raw level (True = pressed); returns True once per debounced press."""
        if raw != self._raw or self._raw_since is None:
            self._raw = raw
            self._raw_since = now
            return False
        if raw != self.pressed and self._diff(now, self._raw_since) >= self._stable_ms:
            self.pressed = raw
            return raw
        return False


class ButtonPanel:
    """The three faces. After an accepted press all buttons are locked for `lockout_ms`,
    and a button held down never repeats (it must be released and pressed again)."""

    def __init__(self, names, stable_ms=25, lockout_ms=1500, diff=plain_diff):
        self._buttons = {}
        for name in names:
            self._buttons[name] = Debounced(stable_ms, diff)
        self._lockout_ms = lockout_ms
        self._diff = diff
        self._locked_at = None
        self.suppressed = 0

    def poll(self, levels, now):
        """levels: name -> True when pressed. Returns the name of a newly accepted press, or None."""
        accepted = None
        for name in self._buttons:
            if self._buttons[name].update(bool(levels.get(name, False)), now):
                if self.locked(now) or accepted is not None:
                    self.suppressed += 1
                else:
                    accepted = name
        if accepted is not None:
            self._locked_at = now
        return accepted

    def locked(self, now):
        """True while the lock-out after the last accepted press runs."""
        return self._locked_at is not None and self._diff(now, self._locked_at) < self._lockout_ms
