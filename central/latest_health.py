"""One waiting health report per kiosk between paho's thread and the collector's writer.

Health is QoS 0, so the broker sends it without flow control; while the database is slow or locked, every
report used to wait in the inbox (20,000 from one flooding kiosk were 20,000 queued objects, without bound).
A kiosk's health is last-value-wins, so a newer report simply replaces the one still waiting."""
from __future__ import annotations

import dataclasses
import threading
from typing import Any, Protocol, TypeVar


class _Event(Protocol):
    store: str
    kiosk: str


class _Item(Protocol):
    kind: str
    value: Any


ItemT = TypeVar("ItemT", bound=_Item)


class LatestHealth:
    """Per (store, kiosk): the newest health report not yet handed to the writer."""

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str], _Event] = {}
        self._lock = threading.Lock()

    def offer(self, event: _Event) -> bool:
        """Keep `event` as its kiosk's newest report. True when one was already waiting (it now carries this
        one, so the caller queues nothing); False when the caller must queue it."""
        key = (event.store, event.kiosk)
        with self._lock:
            waiting = key in self._waiting
            self._waiting[key] = event
        return waiting

    def take(self, item: ItemT) -> ItemT:
        """`item` as the writer should store it: a health item carries its kiosk's newest report, and the next
        report of that kiosk is queued afresh. Other items pass unchanged."""
        if item.kind != "health":
            return item
        key = (item.value.store, item.value.kiosk)
        with self._lock:
            newest = self._waiting.pop(key, item.value)
        return item if newest is item.value else dataclasses.replace(item, value=newest)  # type: ignore[type-var]

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)
