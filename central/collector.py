"""MQTT collector: validate every kiosk message, store mood windows once in batches, keep kiosk status."""
from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

import contract
from central.errors import CentralError
from central.latest_health import LatestHealth
from central.mqtt_reader import BufferedReadClient
from central.offers_store import save_offer_days
from central.records import DeadLetter, WindowRecord
from central.reject_log import RejectLog
from central.store import Store
from central.window_order import WindowOutcome
from contract.offers import OffersDay, check_day_reported, decode_offers

log = logging.getLogger(__name__)

_REFUSED = (WindowOutcome.REPLAY, WindowOutcome.OVERLAP, WindowOutcome.PRUNED)  # counted as rejects by reason
MAX_PACKET_BYTES = 16 * contract.MAX_PAYLOAD_BYTES  # told to the broker at connect (MQTT 5 Maximum Packet Size)


@dataclass(frozen=True)
class CollectorSettings:
    """How the collector reaches the broker and what it accepts."""

    broker: contract.BrokerUrl  # from contract.parse_broker_url
    group: str = "moodkiosk-collectors"
    client_id: str | None = None  # None: stable_client_id(name, host, index)
    name: str = "central"
    index: int = 0  # 0: the in-process collector, 1..: worker processes
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    allowed_stores: frozenset[str] | None = None  # None: any store
    batch_max: int = 2000
    batch_wait_s: float = 0.05
    session_expiry_s: int = 3600  # the broker keeps our queue this long while we are away
    follow_status: bool = True  # subscribe to kiosks' retained status (one collector per host does)
    time_bounds: contract.TimeBounds = field(default_factory=contract.TimeBounds)
    reject_log_interval_s: float = 60.0
    qos0_backlog_max: int = 10_000  # QoS 0 messages are dropped ("overloaded") while this many wait

    def __post_init__(self) -> None:
        if not isinstance(self.broker, contract.BrokerUrl):  # a URL string would otherwise fail at connect time
            raise TypeError(f"CollectorSettings.broker must be a contract.BrokerUrl, got {type(self.broker).__name__}")
        # the group becomes a topic level at every connect; checked here, a bad one would subscribe to nothing
        contract.shared_subscription(self.group, "mood")

    @property
    def effective_client_id(self) -> str:
        return self.client_id or stable_client_id(self.name, socket.gethostname(), self.index)


def stable_client_id(name: str, host: str, index: int) -> str:
    """The same MQTT client id on every start of the same collector, so a restart resumes its broker
    session (and its queued windows) instead of leaving it behind as a member of the shared group."""
    clean = lambda text: re.sub(r"[^A-Za-z0-9_-]", "-", text)[:40] or "x"  # noqa: E731
    return f"moodkiosk-{clean(name)}-{clean(host)}-{int(index)}"


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
    dead_letters: int = 0
    connected: bool = False
    failure: str | None = None  # set when the MQTT loop or the writer stopped: the process must be restarted
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"received": self.received, "stored": self.stored, "duplicates": self.duplicates,
                    "rejected": dict(self.rejected), "rejected_total": sum(self.rejected.values()),
                    "batches": self.batches, "db_errors": self.db_errors, "dead_letters": self.dead_letters,
                    "connected": self.connected and self.failure is None, "alive": self.failure is None,
                    "failure": self.failure}


def merge_stats(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """Several collectors' `CollectorStats.snapshot()`s as one: counters added, connected only if all are."""
    merged: dict[str, Any] = {"received": 0, "stored": 0, "duplicates": 0, "rejected": Counter(), "rejected_total": 0,
                              "batches": 0, "db_errors": 0, "dead_letters": 0, "connected": bool(snapshots),
                              "alive": True, "failure": None}
    for snap in snapshots:
        if not snap:
            merged["connected"] = False
            continue
        for key in ("received", "stored", "duplicates", "rejected_total", "batches", "db_errors", "dead_letters"):
            merged[key] += snap.get(key, 0)
        merged["rejected"].update(snap["rejected"])
        merged["connected"] = merged["connected"] and snap["connected"]
        if snap.get("failure"):
            merged["alive"], merged["failure"] = False, snap["failure"]
    merged["rejected"] = dict(merged["rejected"])
    merged["collectors"] = len(snapshots)
    return merged


def record_from(doc: contract.MoodDocument, received_at: float) -> WindowRecord:
    """A decoded mood.v1 document as the row the store keeps."""
    fb = doc.feedback
    return WindowRecord(
        doc.store, doc.kiosk, doc.seq, doc.window_start.timestamp(), doc.window_end.timestamp(), doc.people,
        dict(doc.counts), doc.mood_index, fb.happy, fb.neutral, fb.unhappy, doc.model_version, doc.merged_windows,
        received_at,
    )


@dataclass(frozen=True)
class Inbound:
    """One accepted message on its way from paho's thread to the writer (with what a dead letter needs)."""

    kind: str  # "mood", "offers", "health", "status", or "dead" (the collector failed on it: a dead letter)
    value: WindowRecord | OffersDay | KioskEvent | DeadLetter
    mid: int
    qos: int
    generation: int
    topic: str
    payload: bytes
    received_at: float


def _topic_text(msg: mqtt.MQTTMessage) -> str:
    raw = getattr(msg, "_topic", b"")
    return raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else str(raw)


class Collector:
    """Subscribes (MQTT 5 shared subscription for mood and health, a plain one for retained status),
    decodes in paho's thread, and hands accepted messages to one writer thread. The writer stores a batch
    in one transaction and only then acknowledges the batch's QoS 1 messages, so a crash between receipt and
    commit makes the broker redeliver rather than lose; the ordering rule makes the redelivery a no-op.

    Nothing a message contains can stop ingest: every paho callback runs behind an exception barrier, a
    batch the database refuses for a reason other than being away is split until the one bad row is
    isolated (kept as a dead letter, acknowledged, counted), and if the MQTT loop or the writer still stops,
    `failure` says so and the process exits non-zero for its supervisor to restart it."""

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
        self._inbox: deque[Inbound] = deque()
        self._latest_health = LatestHealth()  # QoS 0 health has no flow control: one waiting report per kiosk
        self._wake = threading.Event()
        self._refused: str | None = None
        self._generation = 0  # bumped per connection: a packet id is only meaningful on its own connection
        self._stop = threading.Event()
        self._started = False
        self._retiring = False
        self.session_present: bool | None = None
        self._writer: threading.Thread | None = None
        self._rejects = RejectLog(log, settings.reject_log_interval_s)
        self._writer_beat = time.monotonic()  # the writer loop's latest round (service watchdog)
        self._host = settings.broker.host
        self._port = settings.broker.port
        self._tls = settings.broker.tls
        self._client = self._make_client()

    @property
    def client_id(self) -> str:
        return self.settings.effective_client_id

    def _make_client(self) -> mqtt.Client:
        client = BufferedReadClient(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5,
                                    manual_ack=True)
        if self.settings.username:
            client.username_pw_set(self.settings.username, self.settings.password)
        if self._tls:
            client.tls_set(ca_certs=self.settings.ca_file or None)
        client.reconnect_delay_set(1, 30)
        client.max_queued_messages_set(0)
        client.suppress_exceptions = True  # second net behind the barriers: paho logs instead of dying
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
        # The broker drops bigger messages for us instead of sending them (a broker without message_size_limit
        # would hand over up to 256 MB); a little over the contract's limit still arrives and counts as oversized.
        props.MaximumPacketSize = MAX_PACKET_BYTES
        try:
            self._client.connect(self._host, self._port, keepalive=30, clean_start=False, properties=props)
        except (OSError, ValueError) as exc:
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
        self._started = True

    def stop(self, end_session: bool = False) -> None:
        """Stop taking messages, store and acknowledge what is queued, disconnect (with `end_session`, telling
        the broker to drop the session now instead of keeping it for session_expiry_s)."""
        self._stop.set()
        if self._writer is not None:
            self._writer.join(10)
        props = None
        if end_session:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
        self._client.disconnect(properties=props)  # sent after the acknowledgements already queued
        self._client.loop_stop()
        self._rejects.flush(force=True)

    def retire(self, idle_s: float = 1.0, timeout_s: float = 60.0) -> int:
        """Resume this client id's session if the broker still has one (a worker index no longer started),
        store what it holds, then end it, so it stops taking a share of the group. Returns windows stored."""
        self._retiring = True
        self.start()
        if self.session_present:
            deadline = time.monotonic() + timeout_s
            topics = [contract.shared_subscription(self.settings.group, kind) for kind in ("mood", "health", "offers")]
            for phase in ("drain", "unsubscribed"):
                last = -1
                while time.monotonic() < deadline:
                    time.sleep(idle_s)
                    with self.stats.lock:
                        now = self.stats.received
                    if now == last and not self._inbox:
                        break
                    last = now
                if phase == "drain":
                    self._client.unsubscribe(topics)
            log.info("collector %s: retired a stale session (%s windows stored from it)", self.client_id,
                     self.stats.stored)
        self.stop(end_session=True)
        return self.stats.stored

    def failure(self) -> str | None:
        """Why this collector can no longer work (its MQTT loop or writer thread ended), else None."""
        if self._started and not self._stop.is_set():
            thread = getattr(self._client, "_thread", None)
            why = None
            if thread is None or not thread.is_alive():
                why = "the MQTT network loop stopped"
            elif self._writer is None or not self._writer.is_alive():
                why = "the storage writer stopped"
            if why is not None:
                with self.stats.lock:
                    if self.stats.failure is None:
                        log.critical("collector %s: %s; exiting so that the supervisor restarts it", self.client_id,
                                     why)
                    self.stats.failure = why
        return self.stats.failure

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
        try:
            self._connected(client, flags, reason)
        except Exception:  # the barrier: an exception here would end paho's thread
            log.exception("collector: handling the broker's CONNACK failed")

    def _connected(self, client: mqtt.Client, flags: Any, reason: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            log.error("MQTT broker refused the collector: %s", reason)
            if reason.value in (134, 135):
                self._stop.set()
                client.disconnect()
            return
        if self.session_present is None:
            self.session_present = bool(flags.session_present)
        if self._retiring and not self.session_present:  # nothing to drain: no subscriptions, just end it
            with self.stats.lock:
                self.stats.connected = True
                self._generation += 1
            return
        group = self.settings.group
        # Re-subscribe on every connect. Status is a plain subscription: brokers do not send retained
        # messages to shared subscriptions, and every collector should know which kiosks are online.
        topics = [(contract.shared_subscription(group, "mood"), 1), (contract.shared_subscription(group, "health"), 0),
                  (contract.shared_subscription(group, "offers"), 1)]
        if self.settings.follow_status:
            topics.append((f"{contract.TOPIC_ROOT}/+/+/status", 1))
        client.subscribe(topics)
        with self.stats.lock:
            self.stats.connected = True
            self._generation += 1
        log.info("collector %s connected to %s:%s (group %s, session present: %s)", self.client_id, self._host,
                 self._port, group, flags.session_present)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        try:
            with self.stats.lock:
                self.stats.connected = False
            if not self._stop.is_set():
                log.warning("collector lost the broker (%s); reconnecting", reason)
        except Exception:
            log.exception("collector: handling a disconnect failed")

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        """The barrier: whatever a message contains, it is taken, counted and acknowledged here."""
        now = time.time()
        try:
            self._receive(msg, now)
        except contract.ContractError as exc:
            self._reject(client, msg, exc.reason, str(exc))
        except Exception as exc:  # a bug met by this message: keep it as a dead letter, keep going
            log.exception("collector failed on a message on %s", _topic_text(msg)[:200])
            topic = _topic_text(msg)
            with self.stats.lock:
                self.stats.received += 1
                generation = self._generation
            letter = DeadLetter(now, topic, bytes(msg.payload), "internal", f"{type(exc).__name__}: {exc}"[:500])
            self._enqueue(Inbound("dead", letter, msg.mid, msg.qos, generation, topic, bytes(msg.payload), now))

    def _reject(self, client: mqtt.Client, msg: mqtt.MQTTMessage, reason: str, text: str) -> None:
        with self.stats.lock:
            self.stats.received += 1
            self.stats.rejected[reason] += 1
        self._rejects.rejected(reason, _topic_text(msg), text)
        if msg.qos:
            client.ack(msg.mid, msg.qos)  # acknowledged so the broker does not redeliver it forever

    def _receive(self, msg: mqtt.MQTTMessage, now: float) -> None:
        topic = _topic_text(msg)
        if msg.qos == 0 and len(self._inbox) >= self.settings.qos0_backlog_max:
            # QoS 0 has no flow control: while the database is busy the broker keeps sending; the sender
            # accepted at-most-once delivery, so beyond this backlog such messages are counted and dropped.
            raise contract.ContractError("overloaded", f"{len(self._inbox)} messages wait for the database")
        parts = contract.parse_topic(topic)
        if self.settings.allowed_stores is not None and parts.store not in self.settings.allowed_stores:
            raise contract.ContractError("unknown_store", f"store {parts.store!r} is not in the allow-list")
        value: WindowRecord | OffersDay | KioskEvent
        if parts.kind == "mood":
            received = datetime.fromtimestamp(now, timezone.utc)
            doc = contract.MoodDocument.decode(msg.payload, parts, received, self.settings.time_bounds)
            value = record_from(doc, now)
        elif parts.kind == "offers":
            value = decode_offers(msg.payload, parts)
            received = datetime.fromtimestamp(now, timezone.utc)
            # the newest sent_at wins per day, so a report dated in the future would win for good
            self.settings.time_bounds.check(value.sent_at, value.sent_at, received)
            check_day_reported(value)  # the day itself: not one that has not begun, nor one long gone
        elif parts.kind == "health":
            event = KioskEvent(parts.store, parts.kiosk, "health", health=contract.decode_health(msg.payload, parts),
                               at=now)
            if self._latest_health.offer(event):  # a report of this kiosk already waits: now it carries this one
                with self.stats.lock:
                    self.stats.received += 1
                return
            value = event
        else:
            text = bytes(msg.payload).decode("utf-8", "replace")
            if text not in (contract.STATUS_ONLINE, contract.STATUS_OFFLINE):
                raise contract.ContractError("schema", f"status {text[:40]!r} is not online/offline")
            value = KioskEvent(parts.store, parts.kiosk, "status", online=text == contract.STATUS_ONLINE, at=now)
        with self.stats.lock:
            self.stats.received += 1
            generation = self._generation
        self._enqueue(Inbound(parts.kind, value, msg.mid, msg.qos, generation, topic, b"", now))

    def _enqueue(self, item: Inbound) -> None:
        self._inbox.append(item)
        if not self._wake.is_set():
            self._wake.set()

    # ---- writer thread ---------------------------------------------------------------------------------

    def _write_loop(self) -> None:
        pending: list[Inbound] = []
        inbox = self._inbox
        while True:
            self._writer_beat = time.monotonic()
            stopping = self._stop.is_set()
            if not pending:
                if not inbox:
                    self._wake.wait(0.2)
                    self._wake.clear()
                    self._rejects.flush()
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
                    pending.append(self._latest_health.take(inbox.popleft()))
            done: set[int] = set()
            try:
                self._store(pending, done)
            except Exception as exc:  # the database is away (transient): keep the rest, unacknowledged, and retry
                pending = [item for item in pending if id(item) not in done]
                with self.stats.lock:
                    self.stats.db_errors += 1
                log.error("storing %s messages failed (%s); retrying in 1 s", len(pending), exc)
                if self._stop.wait(1.0) and stopping:
                    log.error("stopping with %s messages unstored; the broker will redeliver them", len(pending))
                    return
                continue
            pending = []

    def _store(self, batch: list[Inbound], done: set[int]) -> None:
        """Commit `batch`; when the database refuses it for a reason that is not transient, split it until
        the refused row is alone and keep that row as a dead letter. Transient errors propagate (retry)."""
        try:
            self._commit(batch)
        except Exception as exc:
            if self.store.is_transient(exc):
                raise
            if len(batch) > 1:
                half = len(batch) // 2
                self._store(batch[:half], done)
                self._store(batch[half:], done)
                return
            item = batch[0]
            log.error("the database refused one message on %s; kept as a dead letter: %s", item.topic[:200], exc)
            self._dead_letter(item, "store_failed", f"{type(exc).__name__}: {exc}")
        done.update(id(item) for item in batch)

    def _dead_letter(self, item: Inbound, reason: str, detail: str) -> None:
        payload = item.payload
        if isinstance(item.value, WindowRecord):
            payload = repr(item.value.as_json()).encode("utf-8", "replace")
        self.store.add_dead_letter(DeadLetter(item.received_at, item.topic, payload, reason, detail[:500]))
        self._ack([item])
        with self.stats.lock:
            self.stats.dead_letters += 1
            self.stats.rejected[reason] += 1

    def _ack(self, batch: list[Inbound]) -> None:
        with self.stats.lock:
            generation = self._generation
        for item in batch:
            if item.qos and item.generation == generation:  # older ones: the broker redelivers them
                self._client.ack(item.mid, item.qos)

    def _commit(self, batch: list[Inbound]) -> None:
        moods = [item for item in batch if item.kind == "mood"]
        records = [item.value for item in moods if isinstance(item.value, WindowRecord)]
        outcomes = self.store.store_windows(records)
        save_offer_days(self.store, [item.value for item in batch if isinstance(item.value, OffersDay)], time.time())
        events: list[KioskEvent] = []
        for item in batch:
            if isinstance(item.value, KioskEvent):
                event = item.value
                if event.kind == "status":
                    self.store.set_status(event.store, event.kiosk, bool(event.online), event.at)
                else:
                    self.store.set_health(event.store, event.kiosk, dict(event.health or {}), event.at)
                events.append(event)
            elif isinstance(item.value, DeadLetter):
                self.store.add_dead_letter(item.value)
        self._ack(batch)
        counts = Counter(outcomes)
        stored = [r for r, outcome in zip(records, outcomes) if outcome is WindowOutcome.STORED]
        with self.stats.lock:
            self.stats.stored += counts[WindowOutcome.STORED]
            self.stats.duplicates += counts[WindowOutcome.DUPLICATE]
            for outcome in _REFUSED:
                if counts[outcome]:
                    self.stats.rejected[outcome.value] += counts[outcome]
            dead = sum(1 for item in batch if item.kind == "dead")
            if dead:
                self.stats.dead_letters += dead
                self.stats.rejected["internal"] += dead
            self.stats.batches += 1
        for record, outcome in zip(records, outcomes):
            if outcome in _REFUSED:
                self._rejects.rejected(outcome.value, contract.topic_for(record.store, record.kiosk, "mood"),
                                       f"window seq {record.seq} contradicts the windows stored for that kiosk")
        if counts[WindowOutcome.DUPLICATE]:
            log.info("%s redelivered window(s) were already stored", counts[WindowOutcome.DUPLICATE])
        self._notify(stored, events)

    def _notify(self, stored: list[WindowRecord], events: list[KioskEvent]) -> None:
        """Hand committed data to the dashboard; its failure must not make the batch look unstored."""
        try:
            if self._on_windows is not None and stored:
                self._on_windows(stored)
            if self._on_kiosk is not None:
                for event in events:
                    self._on_kiosk(event)
        except Exception:
            log.exception("passing stored windows to the dashboard failed")
