"""Fan-out of stored windows and kiosk changes to the dashboard's server-sent event streams."""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from central.auth import User
from central.collector import KioskEvent
from central.records import WindowRecord

log = logging.getLogger(__name__)

CLOSE = "__close__"  # internal event name: the stream ends
_QUEUE_MAX = 256  # events a slow browser may lag behind before it is told to reload


@dataclass(eq=False)
class Subscriber:
    user: User
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[tuple[str, str]] = field(default_factory=lambda: asyncio.Queue(_QUEUE_MAX))
    lagging: bool = False


class EventHub:
    """Called from the collector's writer thread; hands each subscriber only its own stores' events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: set[Subscriber] = set()

    def subscribe(self, user: User) -> Subscriber:
        sub = Subscriber(user, asyncio.get_running_loop())
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def streams_of(self, name: str) -> int:
        with self._lock:
            return sum(1 for s in self._subs if s.user.name == name)

    def windows(self, records: list[WindowRecord]) -> None:
        """A committed batch of windows (one event per subscriber and batch, filtered by store)."""
        with self._lock:
            subs = list(self._subs)
        if not subs:
            return
        by_store: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            by_store.setdefault(record.store, []).append(record.as_json())
        for sub in subs:
            visible = [w for store, docs in by_store.items() if sub.user.may_see(store) for w in docs]
            if visible:
                self._send(sub, "windows", json.dumps(visible, separators=(",", ":"), allow_nan=False))

    def kiosk(self, event: KioskEvent) -> None:
        with self._lock:
            subs = [s for s in self._subs if s.user.may_see(event.store)]
        if not subs:
            return
        data: dict[str, Any] = {"store": event.store, "kiosk": event.kiosk, "kind": event.kind, "at": event.at}
        if event.kind == "status":
            data["online"] = event.online
        else:
            data["health"] = event.health
        try:  # health is decoded finite; a non-finite number must still never reach a browser as invalid JSON
            text = json.dumps(data, separators=(",", ":"), allow_nan=False)
        except ValueError:
            log.error("kiosk event of %s/%s has a non-finite number; not streamed", event.store, event.kiosk)
            return
        for sub in subs:
            self._send(sub, "kiosk", text)

    def close(self) -> None:
        """End every open stream (at shutdown, so the web server need not cancel them)."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            self._send(sub, CLOSE, "")

    def _send(self, sub: Subscriber, name: str, data: str) -> None:
        def put() -> None:
            if sub.lagging and name != CLOSE:
                return
            try:
                sub.queue.put_nowait((name, data))
            except asyncio.QueueFull:
                if name == CLOSE:
                    return
                sub.lagging = True  # the stream sends "resync" and closes; the page reloads its data
                log.warning("dashboard client of %s lags behind; asking it to resync", sub.user.name)

        try:
            sub.loop.call_soon_threadsafe(put)
        except RuntimeError:  # its event loop is gone
            self.unsubscribe(sub)
