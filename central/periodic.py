"""A daemon thread that runs one job every N seconds beside the collector until stopped."""
from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)


class PeriodicThread:
    """Calls `job` every `interval_s` (first at once when `run_first`); an exception is logged and the next
    run tries again, so a database or mail outage never ends the job."""

    def __init__(self, name: str, interval_s: float, job: Callable[[], object], run_first: bool = True) -> None:
        self.name = name
        self.interval_s = interval_s
        self._job = job
        self._run_first = run_first
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        if not self._run_first and self._stop.wait(self.interval_s):
            return
        while True:
            try:
                self._job()
            except Exception:
                log.exception("%s failed; retrying in %s s", self.name, self.interval_s)
            if self._stop.wait(self.interval_s):
                return
