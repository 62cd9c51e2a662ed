"""Serial link to the kiosk's peripheral board (card reader, three feedback buttons, status light).

Runs in its own thread: opens the port with pyserial, does the HOST/HELLO handshake, ACKs and
de-duplicates the board's events, exchanges heartbeats, and on a lost board (unplugged, silent,
reset) closes the port and reconnects with back-off. Callbacks run on that thread and never see
a bad frame; an exception in a callback is logged, never raised back into the link.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import serial

from kiosk.services.peripheral_codec import (
    FACES,
    LED_STATES,
    PROTO_VERSION,
    Frame,
    FrameError,
    LineSplitter,
    decode,
    encode,
    valid_uid,
)
from kiosk.status import ReaderStatus
from vision.callbacks import call_safely

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class LinkTimings:
    """Seconds; defaults match firmware/PROTOCOL.md. Tests shorten the back-off."""

    heartbeat_s: float = 1.0
    peer_timeout_s: float = 3.5
    handshake_s: float = 2.0
    host_resend_s: float = 0.5
    led_resend_s: float = 0.3
    led_max_attempts: int = 6
    backoff_min_s: float = 0.5
    backoff_max_s: float = 5.0
    read_poll_s: float = 0.05


@dataclass(frozen=True)
class LinkStats:
    """Counters for health reports and tests; no identities."""

    cards: int
    buttons: int
    duplicates: int
    bad_frames: int
    rejected: int
    connects: int
    board_resets: int


class _Lost(Exception):
    """The current connection is over (silent board, no handshake); reconnect."""


class PeripheralLink:
    """`PeripheralLink(port, on_card, on_button, on_state)`; `start()`, `stop()`, `set_led(state)`."""

    def __init__(
        self,
        port: str,
        on_card: Callable[[str], None],
        on_button: Callable[[str], None],
        on_state: Callable[[ReaderStatus], None],
        baudrate: int = 115200,
        timings: LinkTimings | None = None,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self._on_card = on_card
        self._on_button = on_button
        self._on_state = on_state
        self._t = timings or LinkTimings()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._led_wanted = "idle"
        self._led_version = 0
        self._state: ReaderStatus | None = None
        self._counts = dict.fromkeys(
            ("cards", "buttons", "duplicates", "bad_frames", "rejected", "connects", "board_resets"), 0
        )
        # De-duplication survives a reconnect to the same boot; a new boot id clears it.
        self._boot_id: str | None = None
        self._seen: deque[int] = deque(maxlen=64)
        self._ready = False
        self._incompatible = False
        self._led_acked = -1
        self._led_sent: tuple[int, int, float, int] | None = None  # (version, seq, sent_at, attempts)
        self._out_seq = 0
        self.firmware_version: str | None = None

    # -- public API ----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="peripheral-link", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def set_led(self, state: str) -> None:
        """Ask the board to show a status-light state; the latest wish is re-sent after a reconnect."""
        if state not in LED_STATES:
            raise ValueError(f"LED state {state!r} is not one of {', '.join(LED_STATES)}")
        with self._lock:
            self._led_wanted = state
            self._led_version += 1

    @property
    def state(self) -> str | None:
        return self._state

    @property
    def stats(self) -> LinkStats:
        with self._lock:
            return LinkStats(**self._counts)

    # -- thread --------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = self._t.backoff_min_s
        self._set_state(ReaderStatus.CONNECTING)
        while not self._stop.is_set():
            try:
                # exclusive: a second program (e.g. `moodkiosk peripheral` while the kiosk runs) must not
                # steal half the frames; it gets a clear "port busy" instead.
                port = serial.Serial(
                    self.port, self.baudrate, timeout=self._t.read_poll_s, write_timeout=1.0, exclusive=True
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                # Once per outage at WARNING; the retries every few seconds only at DEBUG.
                log.log(logging.DEBUG if self._state == ReaderStatus.DISCONNECTED else logging.WARNING,
                        "peripheral port %s not available: %s", self.port, exc)
                self._set_state(ReaderStatus.DISCONNECTED)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._t.backoff_max_s)
                continue
            try:
                self._session(port)
            except (serial.SerialException, OSError) as exc:
                log.warning("peripheral port %s lost: %s", self.port, exc)
            except _Lost as exc:
                log.warning("peripheral on %s: %s", self.port, exc)
            finally:
                try:
                    port.close()
                except (serial.SerialException, OSError):
                    pass
            if self._ready:  # the board answered: a later loss starts the back-off afresh
                backoff = self._t.backoff_min_s
            if not self._stop.is_set():
                self._set_state(ReaderStatus.DISCONNECTED)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._t.backoff_max_s)
        self._set_state(ReaderStatus.DISCONNECTED)

    def _session(self, port: serial.Serial) -> None:
        """One connection, from HOST until the board is lost (raises) or stop() is called."""
        session_id = secrets.token_hex(4).upper()
        splitter = LineSplitter()
        self._ready = False
        self._incompatible = False
        self._led_sent = None
        self._out_seq = 0
        host = encode(Frame("HOST", 0, (str(PROTO_VERSION), session_id)))
        started = last_host = last_write = time.monotonic()
        port.write(host)
        last_heard = started
        while not self._stop.is_set():
            data = port.read(max(1, port.in_waiting))
            now = time.monotonic()
            for line in splitter.feed(data):
                try:
                    frame = decode(line)
                except FrameError as exc:
                    self._count("bad_frames")
                    log.debug("peripheral: dropped a bad frame (%s, %d bytes)", exc, len(line))
                    continue
                last_heard = now
                self._handle(port, frame)
            if splitter.overflows:
                self._count("bad_frames", splitter.overflows)
                splitter.overflows = 0
            if not self._ready:
                if now - started > self._t.handshake_s:
                    raise _Lost(f"no HELLO within {self._t.handshake_s:.1f} s")
                if now - last_host >= self._t.host_resend_s:
                    port.write(host)
                    last_host = last_write = now
                continue
            if now - last_heard > self._t.peer_timeout_s:
                raise _Lost(f"board silent for {self._t.peer_timeout_s:.1f} s")
            if not self._incompatible and self._send_led(port, now):
                last_write = now
            elif now - last_write >= self._t.heartbeat_s:
                port.write(encode(Frame("HB", self._out_seq)))
                last_write = now

    def _handle(self, port: serial.Serial, frame: Frame) -> None:
        kind = frame.kind
        if kind == "HB":
            return
        if kind == "ACK":
            if self._led_sent is not None and frame.seq == self._led_sent[1]:
                self._led_acked = self._led_sent[0]
                self._led_sent = None
            return
        if kind == "HELLO":
            port.write(encode(Frame("ACK", frame.seq)))
            self._hello(frame)
            return
        if kind not in ("CARD", "BTN", "FAULT"):
            self._count("bad_frames")  # host-only types coming back: an echoing line
            return
        if not self._ready or self._incompatible:
            return  # no ACK: the board re-sends after its HELLO is through
        port.write(encode(Frame("ACK", frame.seq)))
        if frame.seq in self._seen:
            self._count("duplicates")
            return
        self._seen.append(frame.seq)
        self._dispatch(frame)

    def _hello(self, frame: Frame) -> None:
        if len(frame.payload) != 3:
            self._count("rejected")
            log.warning("peripheral: HELLO with %d fields, expected 3", len(frame.payload))
            return
        boot_id, fw_version, proto = frame.payload
        self.firmware_version = fw_version
        if proto != str(PROTO_VERSION):
            # Stay connected (no reconnect churn on the service line) but act on nothing it sends.
            self._incompatible = True
            self._ready = True
            log.error("peripheral firmware %s speaks protocol %s, this kiosk speaks %s", fw_version, proto, PROTO_VERSION)
            self._set_state(ReaderStatus.INCOMPATIBLE)
            return
        if boot_id != self._boot_id:
            if self._boot_id is not None:
                self._count("board_resets")
                log.info("peripheral board restarted (new boot id); sequence numbers start over")
            self._boot_id = boot_id
            self._seen.clear()
            # A restarted board forgot the light it was told: send the wanted state again, also when the
            # restart happened behind a port that stayed open (the connection is still "ready").
            self._led_acked = -1
            self._led_sent = None
        if not self._ready:
            self._ready = True
            self._led_acked = -1  # re-send the wanted LED state on every new connection
            self._count("connects")
            log.info("peripheral connected on %s, firmware %s", self.port, fw_version)
        self._set_state(ReaderStatus.CONNECTED)

    def _dispatch(self, frame: Frame) -> None:
        payload = frame.payload
        if frame.kind == "CARD":
            if len(payload) != 1 or not valid_uid(payload[0]):
                self._count("rejected")
                log.warning("peripheral: CARD frame with a malformed UID ignored")
                return
            self._count("cards")
            log.info("peripheral: card tap (%d hex digits)", len(payload[0]))
            call_safely(self._on_card, payload[0], log, "peripheral card callback")
        elif frame.kind == "BTN":
            if len(payload) != 1 or payload[0] not in FACES:
                self._count("rejected")
                log.warning("peripheral: BTN frame with unknown face %r ignored", payload[:1])
                return
            self._count("buttons")
            call_safely(self._on_button, payload[0], log, "peripheral button callback")
        elif payload == ("clear",):  # FAULT cleared
            log.info("peripheral reports its fault cleared")
            self._set_state(ReaderStatus.CONNECTED)
        else:  # FAULT
            log.warning("peripheral reports a fault: %s", " ".join(payload) or "unspecified")
            self._set_state(ReaderStatus.READER_FAULT)

    def _send_led(self, port: serial.Serial, now: float) -> bool:
        with self._lock:
            version, wanted = self._led_version, self._led_wanted
        if version == self._led_acked:
            return False
        sent = self._led_sent
        if sent is not None and sent[0] == version:
            if now - sent[2] < self._t.led_resend_s:
                return False
            if sent[3] >= self._t.led_max_attempts:
                log.warning("peripheral did not acknowledge LED %s", wanted)
                self._led_acked = version
                self._led_sent = None
                return False
            seq, attempts = sent[1], sent[3] + 1
        else:
            self._out_seq = 1 if self._out_seq >= 65535 else self._out_seq + 1
            seq, attempts = self._out_seq, 1
        port.write(encode(Frame("LED", seq, (wanted,))))
        self._led_sent = (version, seq, now, attempts)
        return True

    # -- helpers -------------------------------------------------------------------------
    def _set_state(self, state: ReaderStatus) -> None:
        if state == self._state:
            return
        self._state = state
        call_safely(self._on_state, state, log, "peripheral state listener")  # a kiosk bug must not kill the link

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n
