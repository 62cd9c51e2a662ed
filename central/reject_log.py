"""Rate-limited logging of rejected messages: the first of each reason per interval in full, then one
summary line per reason at the end of the interval, so a flood of poison cannot flood the log."""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Callable


class RejectLog:
    """`rejected(reason, where, text)` from any thread; `flush()` writes the due summary lines (also called by rejected)."""

    def __init__(self, logger: logging.Logger, interval_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log = logger
        self._interval = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._since = clock()
        self._logged: set[str] = set()
        self._suppressed: Counter[str] = Counter()

    def rejected(self, reason: str, where: str, text: str) -> None:
        self.flush()
        with self._lock:
            if reason in self._logged:
                self._suppressed[reason] += 1
                return
            self._logged.add(reason)
        self._log.warning("rejected message on %s (%s): %s", where[:200], reason, text)

    def flush(self, force: bool = False) -> None:
        with self._lock:
            now = self._clock()
            if not force and now - self._since < self._interval:
                return
            suppressed, self._suppressed = self._suppressed, Counter()
            self._logged = set()
            elapsed, self._since = now - self._since, now
        for reason, count in sorted(suppressed.items()):
            self._log.warning("rejected %s more message(s) (%s) in the last %.0f s", count, reason, elapsed)
