"""MQTT collector: validate every kiosk message, store mood windows once in batches, keep kiosk status."""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

import contract
from central.errors import CentralError
from central.mqtt_reader import BufferedReadClient
from central.records import WindowRecord
from central.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectorSettings:
    """How the collector reaches the broker and what it accepts."""

    mqtt_url: str
    group: str = "moodkiosk-collectors"
    client_id: str | None = None
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    allowed_stores: frozenset[str] | None = None  # None: any store
    batch_max: int = 2000
    batch_wait_s: float = 0.05
    session_expiry_s: int = 3600  # the broker keeps our queue this long while we are away
    follow_status: bool = True  # subscribe to kiosks' retained status (one collector per host does)


@dataclass(frozen=True)
class KioskEvent:
    """A kiosk went online/offline or sent health; what the dashboard streams besides windows."""

    store: str
    kiosk: str
    kind: str  # "status" or "health"
    online: bool | None = None
    health: dict[str, Any] | None = None
    at: float = 0.0


@dataclass
class CollectorStats:
    """Counters for the operator (GET /api/stats, the log): received, stored, duplicates, rejects by reason."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    db_errors: int = 0
    connected: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"received": self.received, "stored": self.stored, "duplicates": self.duplicates,
                    "rejected": dict(self.rejected), "rejected_total": sum(self.rejected.values()),
                    "batches": self.batches, "db_errors": self.db_errors, "connected": self.connected}


def merge_stats(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """Several collectors' `CollectorStats.snapshot()`s as one: counters added, connected only if all are."""
    merged: dict[str, Any] = {"received": 0, "stored": 0, "duplicates": 0, "rejected": Counter(), "rejected_total": 0,
                              "batches": 0, "db_errors": 0, "connected": bool(snapshots)}
    for snap in snapshots:
        if not snap:
            merged["connected"] = False
            continue
        for key in ("received", "stored", "duplicates", "rejected_total", "batches", "db_errors"):
            merged[key] += snap[key]
        merged["rejected"].update(snap["rejected"])
        merged["connected"] = merged["connected"] and snap["connected"]
    merged["rejected"] = dict(merged["rejected"])
    merged["collectors"] = len(snapshots)
    return merged


def record_from(doc: dict[str, Any], received_at: float) -> WindowRecord:
    """A validated mood.v1 document as the row the store keeps."""
    fb = doc["feedback"]
    return WindowRecord(
        doc["store"], doc["kiosk"], doc["seq"], contract.parse_utc(doc["window_start"]).timestamp(),
        contract.parse_utc(doc["window_end"]).timestamp(), doc["people"], doc["counts"], float(doc["mood_index"]),
        fb["happy"], fb["neutral"], fb["unhappy"], doc["model_version"], doc["merged_windows"], received_at,
    )


class Collector:
    """Subscribes (MQTT 5 shared subscription for mood and health, a plain one for retained status),
    validates in paho's thread, and hands accepted messages to one writer thread. The writer inserts a batch
    in one transaction and only then acknowledges the batch's QoS 1 messages, so a crash between receipt and
    commit makes the broker redeliver rather than lose; the unique key makes the redelivery a no-op."""

    def __init__(
        self,
        settings: CollectorSettings,
        store: Store,
        on_windows: Callable[[list[WindowRecord]], None] | None = None,
        on_kiosk: Callable[[KioskEvent], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.stats = CollectorStats()
        self._on_windows = on_windows
        self._on_kiosk = on_kiosk
        # paho's thread appends, the writer pops: a deque plus a wake-up event costs a fraction of queue.Queue's
        # lock-and-condition round trip per message, which showed up at thousands of windows a second.
        self._inbox: deque[tuple[str, Any, int, int, int]] = deque()
        self._wake = threading.Event()
        self._refused: str | None = None
        self._generation = 0  # bumped per connection: a packet id is only meaningful on its own connection
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._writer_beat = time.monotonic()  # the writer loop's latest round (service watchdog)
        parts = urlsplit(settings.mqtt_url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise CentralError(f"--mqtt {settings.mqtt_url!r} must look like mqtt://host:1883 or mqtts://host:8883")
        self._host = parts.hostname
        self._port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self._tls = parts.scheme == "mqtts"
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        client_id = self.settings.client_id or f"moodkiosk-collector-{self.settings.group}-{id(self) & 0xFFFF:x}"
        client = BufferedReadClient(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True)
        if self.settings.username:
            client.username_pw_set(self.settings.username, self.settings.password)
        if self._tls:
            client.tls_set(ca_certs=self.settings.ca_file or None)
        client.reconnect_delay_set(1, 30)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # ---- lifecycle --------------------------------------------------------------------------------------

    def start(self, connect_timeout: float = 10.0) -> None:
        """Connect (raising CentralError when the broker cannot be reached) and start the writer thread."""
        self._writer = threading.Thread(target=self._write_loop, name="collector-writer", daemon=True)
        self._writer.start()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s
        try:
            self._client.connect(self._host, self._port, keepalive=30, clean_start=False, properties=props)
        except OSError as exc:
            self._stop.set()
            raise CentralError(f"MQTT broker {self._host}:{self._port} unreachable: {exc}") from exc
        self._client.loop_start()
        deadline = time.monotonic() + connect_timeout
        while not self.stats.connected and time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(0.01)
        if not self.stats.connected:
            self.stop()
            why = f"refused it: {self._refused}" if self._refused else f"did not answer within {connect_timeout:.0f} s"
            raise CentralError(f"MQTT broker {self._host}:{self._port} {why} (check --mqtt-username/--mqtt-password-env)"
                               if self._refused else f"MQTT broker {self._host}:{self._port} {why}")

    def stop(self) -> None:
        """Stop taking messages, store and acknowledge what is queued, disconnect."""
        self._stop.set()
        if self._writer is not None:
            self._writer.join(10)
        self._client.disconnect()  # sent after the acknowledgements already queued
        self._client.loop_stop()

    def alive(self, max_age_s: float) -> bool:
        """For the service watchdog: the writer went round its loop and, while connected, paho's network loop
        did too within `max_age_s` (while the broker is away paho waits to reconnect, which is not a hang)."""
        now = time.monotonic()
        writer_ok = self._writer is not None and self._writer.is_alive() and now - self._writer_beat <= max_age_s
        loop_ok = not self.stats.connected or now - self._client.last_loop <= max_age_s
        return writer_ok and loop_ok

    @property
    def queued(self) -> int:
        return len(self._inbox)

    # ---- paho thread -----------------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            log.error("MQTT broker refused the collector: %s", reason)
            if reason.value in (134, 135):
                self._stop.set()
                client.disconnect()
            return
        group = self.settings.group
        # Re-subscribe on every connect. Status is a plain subscription: brokers do not send retained
        # messages to shared subscriptions, and every collector should know which kiosks are online.
        topics = [(contract.shared_subscription(group, "mood"), 1), (contract.shared_subscription(group, "health"), 0)]
        if self.settings.follow_status:
            topics.append((f"{contract.TOPIC_ROOT}/+/+/status", 1))
        client.subscribe(topics)
        with self.stats.lock:
            self.stats.connected = True
            self._generation += 1
        log.info("collector connected to %s:%s (group %s, session present: %s)", self._host, self._port, group,
                 flags.session_present)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        with self.stats.lock:
            self.stats.connected = False
        if not self._stop.is_set():
            log.warning("collector lost the broker (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.time()
        try:
            parts = contract.parse_topic(msg.topic)
            if self.settings.allowed_stores is not None and parts.store not in self.settings.allowed_stores:
                raise contract.ContractError("unknown_store", f"store {parts.store!r} is not in the allow-list")
            if parts.kind == "mood":
                item: tuple[str, Any, int, int] = ("mood", record_from(contract.decode_mood(msg.payload, parts), now),
                                                  msg.mid, msg.qos)
            elif parts.kind == "health":
                item = ("health", KioskEvent(parts.store, parts.kiosk, "health",
                                             health=contract.decode_health(msg.payload, parts), at=now), msg.mid, msg.qos)
            else:
                text = msg.payload.decode("utf-8", "replace")
                if text not in (contract.STATUS_ONLINE, contract.STATUS_OFFLINE):
                    raise contract.ContractError("schema", f"status {text[:40]!r} is not online/offline")
                item = ("status", KioskEvent(parts.store, parts.kiosk, "status",
                                             online=text == contract.STATUS_ONLINE, at=now), msg.mid, msg.qos)
        except contract.ContractError as exc:
            with self.stats.lock:
                self.stats.received += 1
                self.stats.rejected[exc.reason] += 1
            log.warning("rejected message on %s (%s): %s", msg.topic[:200], exc.reason, exc)
            if msg.qos:
                client.ack(msg.mid, msg.qos)  # acknowledged so the broker does not redeliver it forever
            return
        with self.stats.lock:
            self.stats.received += 1
            generation = self._generation
        self._inbox.append((*item, generation))
        if not self._wake.is_set():
            self._wake.set()

    # ---- writer thread ---------------------------------------------------------------------------------

    def _write_loop(self) -> None:
        pending: list[tuple[str, Any, int, int, int]] = []
        inbox = self._inbox
        while True:
            self._writer_beat = time.monotonic()
            stopping = self._stop.is_set()
            if not pending:
                if not inbox:
                    self._wake.wait(0.2)
                    self._wake.clear()
                    if not inbox:
                        if stopping:
                            return
                        continue
                # Give the batch up to batch_wait_s to fill: one transaction for many windows.
                deadline = time.monotonic() + self.settings.batch_wait_s
                while len(inbox) < self.settings.batch_max and not self._stop.is_set():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    time.sleep(min(remaining, 0.005))
                for _ in range(min(len(inbox), self.settings.batch_max)):
                    pending.append(inbox.popleft())
            try:
                self._commit(pending)
            except Exception as exc:  # database down: keep the batch (unacknowledged) and retry
                with self.stats.lock:
                    self.stats.db_errors += 1
                log.error("storing %s messages failed (%s); retrying in 1 s", len(pending), exc)
                if self._stop.wait(1.0) and stopping:
                    log.error("stopping with %s messages unstored; the broker will redeliver them", len(pending))
                    return
                continue
            pending = []

    def _commit(self, batch: list[tuple[str, Any, int, int, int]]) -> None:
        windows: dict[tuple[str, str, float], WindowRecord] = {}
        events: list[KioskEvent] = []
        for kind, value, *_ in batch:
            if kind == "mood":
                windows.setdefault((value.store, value.kiosk, value.start), value)
            else:
                events.append(value)
        records = list(windows.values())
        inserted = self.store.insert_windows(records)
        for event in events:
            if event.kind == "status":
                self.store.set_status(event.store, event.kiosk, bool(event.online), event.at)
            else:
                self.store.set_health(event.store, event.kiosk, event.health or {}, event.at)
        with self.stats.lock:
            generation = self._generation
        for _, _, mid, qos, gen in batch:
            if qos and gen == generation:  # older ones: the broker redelivers them on the new connection
                self._client.ack(mid, qos)
        moods = sum(1 for kind, *_ in batch if kind == "mood")
        with self.stats.lock:
            self.stats.stored += inserted
            self.stats.duplicates += moods - inserted
            self.stats.batches += 1
        if moods - inserted:
            log.info("%s redelivered window(s) were already stored", moods - inserted)
        if self._on_windows is not None and records:
            self._on_windows(records)
        if self._on_kiosk is not None:
            for event in events:
                self._on_kiosk(event)
