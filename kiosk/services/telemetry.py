"""Anonymous mood telemetry: spool every closed window on disk, publish it QoS 1 in order, forget it on PUBACK."""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import contract
from contract.offers import OffersDay, encode_offers
from kiosk.config import ConfigError, MqttConfig
from kiosk.errors import KioskError
from kiosk.services.spool import ACKED_KEEP_S, Spool, SpoolError
from kiosk.status import BrokerStatus
from vision.callbacks import call_safely

log = logging.getLogger(__name__)

FEEDBACK_FACES = contract.FEEDBACK_FACES
# CONNACK reasons after which retrying cannot help (MQTT 5 codes; paho maps 3.1.1's 4 and 5 onto them).
_AUTH_FAILURES = {134: "bad user name or password", 135: "not authorized"}
_MAX_INFLIGHT = 50  # windows published and not yet acknowledged; more wait in the spool
_SPOOL_RETRY_S = 5.0  # a spool that refused a write (disk full) is tried again this often
_NO_MATCHING_SUBSCRIBERS = 16  # MQTT 5 PUBACK reason: the broker accepted it but nobody (no collector) got it


class TelemetryError(KioskError):
    """The [mqtt] settings cannot work (bad URL, missing password variable, unreadable CA file)."""


MoodWindowLike = contract.mood.WindowLike


@dataclass(frozen=True)
class TelemetryState:
    """What the kiosk's service line shows about telemetry."""

    connection: BrokerStatus
    spool_depth: int
    spool_dropped: int
    message: str = ""


@dataclass
class _Shared:
    """Figures the caller threads hand to the worker (guarded by the publisher's lock)."""

    health: dict[str, Any] = field(default_factory=dict)
    rejected_windows: int = 0
    submitted: int = 0
    spooled: int = 0  # of the submitted windows, those written to the spool


class TelemetryPublisher:
    """Publishes a kiosk's windows, status and health; all network and disk work runs on its own thread.

    `submit_window` writes the window to the on-disk spool before it returns when called off the UI thread
    (the vision worker, which closes windows once a minute; the camera capture thread keeps filling its
    own newest-frame slot meanwhile), so a kiosk killed right after a window closed still has it. Called on
    the main (Qt UI) thread it only queues the window and the worker spools it within milliseconds: an
    fsync must never stall the screen. `report_health` only records figures. The worker publishes up to 50
    ahead in seq order and removes a window only on its PUBACK. On every (re)connect paho's copies of
    unacknowledged messages are dropped and the spool is sent again from its oldest entry, as after a
    restart: the spool is the one record of what is unacknowledged, the order holds, and the collector
    de-duplicates a window whose PUBACK was lost with the connection."""

    def __init__(
        self,
        mqtt_config: MqttConfig,
        store_id: str,
        kiosk_id: str,
        spool: Spool,
        on_state: Callable[[TelemetryState], None] | None = None,
    ) -> None:
        self.settings = mqtt_config
        try:
            self.store_id = contract.validate_id(store_id, "store_id")
            self.kiosk_id = contract.validate_id(kiosk_id, "kiosk_id")
        except contract.ContractError as exc:
            raise TelemetryError(str(exc)) from None
        self._broker = mqtt_config.broker
        try:
            self._password = mqtt_config.resolve_password()  # env var or password file
        except ConfigError as exc:
            raise TelemetryError(str(exc)) from None
        if self.settings.ca_file:
            try:
                contract.check_ca_file(self.settings.ca_file)
            except contract.CaFileError as exc:
                raise TelemetryError(f"mqtt.ca_file {str(self.settings.ca_file)!r}: {exc}") from None
        self.spool = spool
        self._on_state = on_state
        self._topics = {kind: contract.topic_for(self.store_id, self.kiosk_id, kind) for kind in contract.KINDS}
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        self._shared = _Shared()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._inflight: dict[int, int] = {}  # paho mid -> spool seq (worker thread only)
        self._last_sent = 0
        self._replay_since: float | None = None  # acknowledged windows since this time.time() go again (reconnect)
        self._resend_at: float | None = None  # paused after an undelivered window until this time
        self._resend_delay = 0.0
        self._connected = False
        self._state = TelemetryState(BrokerStatus.STOPPED, 0, 0)
        # Windows the spool could not take yet (disk full, I/O error), oldest first; worker thread only.
        self._unspooled: deque[tuple[MoodWindowLike, Mapping[str, int], str]] = deque()
        self._spool_retry_at = 0.0
        self._unremoved: set[int] = set()  # acknowledged windows the spool could not delete yet (worker only)
        self._spool_lock = threading.Lock()  # a window written directly never overtakes one held in memory
        self._spool_problem = ""  # the spool's last fault while it lasts, for the service line
        self._dropped_in_memory = 0  # held windows dropped to keep the spool's bound while it took no writes
        self._spool_figures = (0, 0)  # the spool's depth and drop count when it last answered
        self._started_at = time.monotonic()

    # ---- caller side (any thread; never blocks the UI thread) ----------------------------------------

    @property
    def worker_alive(self) -> bool:
        """The worker thread runs (or was never started); the service watchdog asks."""
        return self._thread is None or self._thread.is_alive()

    def start(self) -> None:
        """Connect in the background and start the worker; returns at once even if the broker is down."""
        if self._thread is not None:
            return
        self._started_at = time.monotonic()
        self._client = self._make_client()
        self._thread = threading.Thread(target=self._run, name="telemetry", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Spool what was submitted, give in-flight windows a moment, say `offline`, disconnect."""
        if self._thread is None:
            return
        self._stop.set()
        self._queue.put(("wake", None))
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("telemetry worker did not stop within %.1f s", timeout)
        self._thread = None

    def submit_window(
        self,
        window: MoodWindowLike,
        feedback_counts: Mapping[str, int],
        model_version: str,
        spool_now: bool | None = None,
    ) -> bool:
        """Spool one closed window for sending; False (and a log line) if it breaks the contract. A window the
        spool cannot take (disk full, damaged file) is held in memory, retried, and written in its turn.

        `spool_now` True: written to disk (one SQLite commit with fsync) before this returns; False: queued
        for the worker thread to write; None (default): True unless called on the main thread, which in
        the kiosk is the Qt UI thread."""
        feedback = dict(feedback_counts)
        try:
            contract.MoodDocument.from_window(self.store_id, self.kiosk_id, 1, window, feedback, model_version).encode()
        except (contract.ContractError, AttributeError, TypeError, ValueError) as exc:
            with self._lock:
                self._shared.rejected_windows += 1
            log.error("mood window %s..%s not sent: %s", getattr(window, "start", "?"), getattr(window, "end", "?"), exc)
            return False
        if spool_now is None:
            spool_now = threading.current_thread() is not threading.main_thread()
        with self._lock:
            self._shared.submitted += 1
        if not spool_now:
            self._queue.put(("window", (window, feedback, str(model_version))))
            return True
        problem: SpoolError | None = None
        with self._spool_lock:
            if not self._unspooled:  # older windows held in memory go first: seq order = time order
                try:
                    self._spool_window(window, feedback, str(model_version))
                except SpoolError as exc:
                    problem = exc
            if self._unspooled or problem is not None:
                # A full disk or a failing file must not cost the window: the worker holds it in memory
                # and writes it once the spool takes writes again (it retries every few seconds).
                self._hold((window, feedback, str(model_version)))
                if problem is not None:
                    log.error("mood window %s..%s not spooled yet (%s); held in memory and retried",
                              window.start, window.end, problem)
        self._queue.put(("spooled", None))  # wake the worker to send it
        return True

    def _spool_window(self, window: MoodWindowLike, feedback: Mapping[str, int], model_version: str) -> None:
        """Write one window to the spool (the spool assigns its seq); any thread."""
        self.spool.append(
            lambda seq: contract.MoodDocument.from_window(self.store_id, self.kiosk_id, seq, window, feedback,
                                                          model_version).encode()
        )
        with self._lock:
            self._shared.spooled += 1

    def publish_offers(self, days: Sequence[OffersDay]) -> None:
        """Send offers.v1 day reports (QoS 1) when connected; a report missed while offline is replaced by the
        next one, since each carries the day's counts so far."""
        payloads = [encode_offers(day) for day in days]
        if payloads:
            self._queue.put(("offers", payloads))

    def report_health(self, figures: Mapping[str, Any]) -> None:
        """Latest device figures (fps, inference_ms, model_version, ...) for the next periodic health message."""
        with self._lock:
            self._shared.health.update(figures)

    @property
    def state(self) -> TelemetryState:
        return self._state

    @property
    def drained(self) -> bool:
        """True once every submitted window is spooled (or was dropped to keep the bound), published and
        acknowledged (spool empty)."""
        with self._lock:
            complete = self._shared.spooled + self._dropped_in_memory == self._shared.submitted
        return complete and self.spool.depth() == 0

    # ---- paho callbacks (paho's network thread): only post events ---------------------------------------

    def _make_client(self) -> mqtt.Client:
        protocol = mqtt.MQTTv5 if self.settings.protocol == "5" else mqtt.MQTTv311
        client_id = self.settings.client_id or f"moodkiosk-{self.store_id}-{self.kiosk_id}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        if self.settings.username:
            client.username_pw_set(self.settings.username, self._password)
        if self._broker.tls:
            client.tls_set(ca_certs=str(self.settings.ca_file) if self.settings.ca_file else None)
        client.will_set(self._topics["status"], contract.STATUS_OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(1, self.settings.reconnect_max_s)
        client.max_inflight_messages_set(_MAX_INFLIGHT)
        client.on_connect = self._on_paho_connect
        client.on_disconnect = lambda c, u, flags, rc, props: self._queue.put(("disconnected", rc))
        client.on_publish = lambda c, u, mid, rc, props: self._queue.put(("puback", (mid, rc)))
        return client

    def _on_paho_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        """paho's thread, before it resends its own unacknowledged messages: drop them (the worker resends
        from the spool). paho's own resend is not something to lean on: its CONNACK handler stops at the
        first message it holds as queued and leaves the ones after it unsent."""
        try:
            if not reason.is_failure:
                client.drop_out_messages()
        except Exception:  # never into paho's thread: an exception there ends the network loop
            log.exception("could not drop paho's unacknowledged messages; the spool resends them anyway")
        self._queue.put(("connack", reason))

    # ---- worker thread ---------------------------------------------------------------------------------

    def _run(self) -> None:
        assert self._client is not None
        self._set_state(BrokerStatus.CONNECTING, f"connecting to {self._broker.host}:{self._broker.port}")
        self._client.connect_async(self._broker.host, self._broker.port, keepalive=self.settings.keepalive_s)
        self._client.loop_start()
        next_health = time.monotonic() + min(5.0, self.settings.health_interval_s)
        try:
            while not self._stop.is_set():
                wake = next_health if self._resend_at is None else min(next_health, self._resend_at)
                if self._unspooled or self._unremoved:
                    wake = min(wake, self._spool_retry_at)
                timeout = max(0.0, wake - time.monotonic())
                try:
                    self._handle(*self._queue.get(timeout=timeout))
                    while True:
                        self._handle(*self._queue.get_nowait())
                except queue.Empty:
                    pass
                try:
                    self._spool_pending()
                    if self._unremoved and time.monotonic() >= self._spool_retry_at:
                        self._remove_acknowledged()
                    self._pump()
                except SpoolError as exc:
                    self._spool_fault(exc)
                if time.monotonic() >= next_health:
                    self._publish_health()
                    next_health = time.monotonic() + self.settings.health_interval_s
                self._refresh_state()
            self._shutdown()
        except Exception:  # the worker must never die silently: the kiosk would stop sending without a word
            log.exception("telemetry worker failed; windows stay in the spool %s", self.spool.path)
            self._set_state(BrokerStatus.STOPPED, "telemetry failed (see log); windows are kept in the spool")
            self._client.loop_stop()

    def _handle(self, kind: str, data: Any) -> None:
        if kind == "window":
            with self._spool_lock:
                self._hold(data)
            self._spool_pending()
        elif kind == "offers":
            if self._connected and self._client is not None:
                for payload in data:
                    self._client.publish(self._topics["offers"], payload, qos=1)
        elif kind == "spooled":
            pass  # written by the submitting thread; the loop sends it and refreshes the depth
        elif kind == "puback":
            mid, reason = data
            seq = self._inflight.pop(mid, None)
            if seq is None:
                return  # status/health messages
            if reason.is_failure or reason.value == _NO_MATCHING_SUBSCRIBERS:
                # Kept: e.g. the broker restarted and no collector has subscribed again yet. Pause, then resend
                # from the oldest spooled window so nothing is lost and the order mostly holds.
                if self._resend_at is None:
                    self._resend_delay = min(30.0, self._resend_delay * 2) if self._resend_delay else 1.0
                    self._resend_at = time.monotonic() + self._resend_delay
                    log.warning("broker did not deliver mood window seq %s (%s); resending the spool in %.0f s",
                                seq, reason, self._resend_delay)
                return
            self._resend_delay = 0.0
            self._unremoved.add(seq)
            self._remove_acknowledged()
        elif kind == "connack":
            self._on_connack(data)
        elif kind == "disconnected":
            if self._connected:
                log.warning("MQTT connection to %s:%s lost (%s); retrying with back-off", self._broker.host,
                            self._broker.port, data)
            self._connected = False
            if self._state.connection is not BrokerStatus.AUTH_FAILED:
                self._set_state(BrokerStatus.DISCONNECTED, f"broker unreachable ({data}); windows kept in the spool")

    def _on_connack(self, reason: Any) -> None:
        assert self._client is not None
        if reason.is_failure:
            if reason.value in _AUTH_FAILURES:
                log.error(
                    "MQTT broker %s:%s refused the login of %r: %s; not retrying until the kiosk is restarted "
                    "with fixed mqtt.username / mqtt.password_env", self._broker.host, self._broker.port,
                    self.settings.username, _AUTH_FAILURES[reason.value],
                )
                self._client.disconnect()
                self._client.loop_stop()
                self._set_state(BrokerStatus.AUTH_FAILED, f"broker refused the credentials ({_AUTH_FAILURES[reason.value]})")
            else:
                log.warning("MQTT broker refused the connection: %s; retrying", reason)
            return
        self._connected = True
        self._inflight.clear()  # paho dropped them on connect: send again what the spool still holds
        self._last_sent = 0
        # and the windows acknowledged lately: a broker that was killed lost those it had not saved yet
        self._replay_since = time.time() - ACKED_KEEP_S
        log.info("MQTT connected to %s:%s", self._broker.host, self._broker.port)
        self._client.publish(self._topics["status"], contract.STATUS_ONLINE, qos=1, retain=True)
        self._set_state(BrokerStatus.CONNECTED, "")

    def _spool_pending(self) -> None:
        """Write the windows held in memory to the spool, oldest first; on a fault keep them and retry later."""
        if not self._unspooled or time.monotonic() < self._spool_retry_at:
            return
        try:
            with self._spool_lock:
                while self._unspooled:
                    self._spool_window(*self._unspooled[0])
                    self._unspooled.popleft()
        except SpoolError as exc:
            self._spool_fault(exc)
            return
        self._spool_recovered()

    def _remove_acknowledged(self) -> None:
        """Forget the windows the broker acknowledged; one the spool cannot delete yet is tried again later
        (never sent again meanwhile, unless the connection restarts: central drops such a repeat)."""
        try:
            while self._unremoved:
                seq = min(self._unremoved)
                self.spool.acknowledge(seq)
                self._unremoved.discard(seq)
        except SpoolError as exc:
            self._spool_fault(exc)
            return
        self._spool_recovered()

    def _spool_recovered(self) -> None:
        """Clear the fault once nothing waits for the spool any more (no held window, no pending delete)."""
        if self._spool_problem and not self._unspooled and not self._unremoved:
            log.warning("spool %s takes writes again", self.spool.path)
            self._spool_problem = ""

    def _hold(self, item: tuple[MoodWindowLike, Mapping[str, int], str]) -> None:
        """Hold a window the spool cannot take yet (caller has _spool_lock), within the spool's own bound: a
        disk full for weeks must not fill memory, and the oldest goes first, as in the spool."""
        if len(self._unspooled) >= self.spool.max_windows:
            self._unspooled.popleft()
            self._dropped_in_memory += 1
            log.error("%d window(s) held in memory, the spool's bound: dropped the oldest (%d in total)",
                      self.spool.max_windows, self._dropped_in_memory)
        self._unspooled.append(item)

    def _spool_fault(self, exc: SpoolError) -> None:
        """Log a spool fault once while it lasts and show it; the worker goes on (windows stay in memory) and
        tries the spool again in a few seconds."""
        self._spool_retry_at = time.monotonic() + _SPOOL_RETRY_S
        if str(exc) != self._spool_problem:
            log.error("%s; %d window(s) held in memory until it works again", exc, len(self._unspooled))
        self._spool_problem = str(exc)

    def _pump(self) -> None:
        """Publish spooled windows in seq order while connected, keeping at most _MAX_INFLIGHT unacknowledged."""
        if not self._connected or self._client is None:
            return
        if self._resend_at is not None:
            if time.monotonic() < self._resend_at or self._inflight:
                return
            self._resend_at = None
            self._last_sent = 0  # everything still spooled goes again, oldest first
        room = _MAX_INFLIGHT - len(self._inflight)
        if room <= 0:
            return
        for item in self.spool.peek(self._last_sent, room, acked_since=self._replay_since):
            info = self._client.publish(self._topics["mood"], item.payload, qos=1)
            self._inflight[info.mid] = item.seq
            self._last_sent = item.seq

    def _publish_health(self) -> None:
        if not self._connected or self._client is None:
            return
        with self._lock:
            figures = dict(self._shared.health)
            rejected = self._shared.rejected_windows
        document: dict[str, Any] = {
            k: v for k, v in figures.items() if isinstance(v, (int, float, str, bool)) or v is None
        }
        document.update(
            schema_version=contract.HEALTH_SCHEMA_VERSION,
            store=self.store_id,
            kiosk=self.kiosk_id,
            sent_at=contract.format_utc(datetime.now(timezone.utc)),
            uptime_s=round(time.monotonic() - self._started_at, 1),
            spool_depth=self._state.spool_depth,
            spool_dropped=self._state.spool_dropped,
            windows_rejected=rejected,
        )
        try:
            payload = contract.encode(contract.validate_health(document))
        except contract.ContractError as exc:
            log.warning("health figures break health.v1 (%s); sending only the spool figures", exc)
            keep = ("schema_version", "store", "kiosk", "sent_at", "uptime_s", "spool_depth", "spool_dropped")
            payload = contract.encode({k: document[k] for k in keep})
        self._client.publish(self._topics["health"], payload, qos=0)

    def _shutdown(self) -> None:
        assert self._client is not None
        while True:
            try:
                self._handle(*self._queue.get_nowait())
            except queue.Empty:
                break
        deadline = time.monotonic() + 2.0
        while self._connected and self._inflight and time.monotonic() < deadline:
            try:
                self._handle(*self._queue.get(timeout=0.05))
            except queue.Empty:
                pass
        self._spool_retry_at = 0.0  # a last try for windows held in memory: after the exit they would be gone
        self._spool_pending()
        if self._unspooled:
            log.error("stopping with %d mood window(s) that the spool %s could not take: they are lost",
                      len(self._unspooled), self.spool.path)
        if self._connected:
            info = self._client.publish(self._topics["status"], contract.STATUS_OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=1.0)
            except (RuntimeError, ValueError):
                pass
        self._client.disconnect()
        self._client.loop_stop()
        self._connected = False
        self._set_state(BrokerStatus.STOPPED, "")

    def _refresh_state(self) -> None:
        self._set_state(self._state.connection, self._state.message)

    def _set_state(self, connection: BrokerStatus, message: str) -> None:
        try:
            depth, dropped = self._spool_figures = self.spool.depth(), self.spool.dropped()
        except SpoolError as exc:  # the spool's last figures (not the state's: it adds what is held in memory)
            self._spool_problem = self._spool_problem or str(exc)
            depth, dropped = self._spool_figures
        if self._spool_problem and connection is not BrokerStatus.STOPPED:
            message = f"spool fault, {len(self._unspooled)} window(s) held in memory: {self._spool_problem}"
        new = TelemetryState(connection, depth + len(self._unspooled), dropped + self._dropped_in_memory, message)
        if new == self._state:
            return
        self._state = new
        call_safely(self._on_state, new, log, "telemetry state listener")  # it must not stop telemetry
