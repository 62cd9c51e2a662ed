"""The board's main loop logic: serial frames in and out, buttons, card taps, status light.

Hardware comes in as small objects (see hal.py), so the same code runs on the Pico and under
CPython in the tests:
  link.read() -> bytes (never blocks, b"" when nothing), link.write(bytes)
  buttons.levels() -> {"happy": bool, ...} (True = pressed)
  reader.init(), reader.read_uid() -> bytes | None (raises OSError on a bus/chip fault)
  light.show((r, g, b))
  clock.ticks_ms(), clock.ticks_diff(new, old), clock.sleep_ms(ms)
"""

from app.buttons import ButtonPanel
from app.cardtap import CardTap
from app.led import Led
from app.link import Dedup, Outbox
from app.protocol import FACES, LED_STATES, PROTO_VERSION, LineReader, ProtocolError, decode, encode

FW_VERSION = "1.0.0"


class Settings:
    """Timings of the loop, in milliseconds (documented in PROTOCOL.md)."""

    def __init__(self, **overrides):
        self.heartbeat_ms = 1000
        self.host_timeout_ms = 3500
        self.resend_ms = 300
        self.max_attempts = 6
        self.event_ttl_ms = 20000
        self.card_poll_ms = 100
        self.card_gone_ms = 800
        self.button_stable_ms = 25
        self.button_lockout_ms = 1500
        self.reader_retry_ms = 2000
        self.reader_fault_after = 3
        for key in overrides:
            if not hasattr(self, key):
                raise ValueError("unknown setting " + key)
            setattr(self, key, overrides[key])


class Board:
    def __init__(self, link, buttons, reader, light, clock, boot_id, settings=None):
        self.s = settings or Settings()
        diff = clock.ticks_diff
        self.link = link
        self.buttons = buttons
        self.reader = reader
        self.light = light
        self.clock = clock
        self.boot_id = boot_id
        self.outbox = Outbox(
            (boot_id, FW_VERSION, str(PROTO_VERSION)),
            self.s.resend_ms, self.s.max_attempts, self.s.event_ttl_ms, diff=diff,
        )
        self.dedup = Dedup()
        self.lines = LineReader()
        self.panel = ButtonPanel(FACES, self.s.button_stable_ms, self.s.button_lockout_ms, diff)
        self.taps = CardTap(self.s.card_gone_ms, diff)
        self.led = Led(diff=diff)
        self.host_session = None
        now = clock.ticks_ms()
        self._host_seen = None
        self._last_write = now
        self._last_poll = now
        self._reader_failures = 0
        self._reader_fault_at = now
        self._shown = None
        self.bad_frames = 0
        self.events = 0
        self._reader_ok = self._init_reader()

    # -- one loop iteration -------------------------------------------------------------
    def step(self):
        now = self.clock.ticks_ms()
        self._receive(now)
        self._host_state(now)
        self._poll_buttons(now)
        self._poll_reader(now)
        self._send(now)
        self._show(now)

    def run(self, feed=None, should_stop=None, idle_ms=5):
        """Loop forever (or until should_stop() is true), feeding the watchdog every iteration."""
        while should_stop is None or not should_stop():
            self.step()
            if feed is not None:
                feed()
            self.clock.sleep_ms(idle_ms)

    # -- inbound -------------------------------------------------------------------------
    def _receive(self, now):
        data = self.link.read()
        if not data:
            return
        for line in self.lines.feed(data):
            try:
                kind, seq, payload = decode(line)
            except ProtocolError:
                self.bad_frames += 1
                continue
            self._handle(kind, seq, payload, now)

    def _handle(self, kind, seq, payload, now):
        self._host_seen = now
        self.outbox.resume()
        if kind == "ACK":
            self.outbox.ack(seq)
        elif kind == "HOST":
            self._write(encode("ACK", seq))
            session = payload[1] if len(payload) > 1 else ""
            if session != self.host_session:
                self.host_session = session
                self.dedup.reset()
            self.outbox.announce()
        elif kind == "LED":
            self._write(encode("ACK", seq))  # acknowledged even when unusable, so it cannot block the host
            if not self.dedup.is_new(seq):
                return
            if len(payload) == 1 and payload[0] in LED_STATES:
                self.led.host_command(payload[0], now)
            else:
                self.bad_frames += 1
        elif kind != "HB":
            self.bad_frames += 1  # a board-to-host type coming back: echo or wiring fault

    def _host_state(self, now):
        alive = self._host_seen is not None and self.clock.ticks_diff(now, self._host_seen) < self.s.host_timeout_ms
        self.led.host_ok = alive

    # -- local inputs --------------------------------------------------------------------
    def _poll_buttons(self, now):
        face = self.panel.poll(self.buttons.levels(), now)
        if face is not None:
            self.outbox.push("BTN", (face,), now)
            self.led.command("feedback", now)
            self.events += 1

    def _poll_reader(self, now):
        if self.clock.ticks_diff(now, self._last_poll) < self.s.card_poll_ms:
            return
        self._last_poll = now
        if not self._reader_ok:
            if self.clock.ticks_diff(now, self._reader_fault_at) >= self.s.reader_retry_ms:
                self._reader_ok = self._init_reader()
            return
        try:
            uid = self.reader.read_uid()
        except OSError:
            self._reader_failures += 1
            if self._reader_failures >= self.s.reader_fault_after:
                self._reader_fault(now)
            return
        self._reader_failures = 0
        tap = self.taps.seen(uid, now)
        if tap is not None:
            self.outbox.push("CARD", (tap,), now)
            self.led.command("card", now)
            self.events += 1

    def _init_reader(self):
        now = self.clock.ticks_ms()
        try:
            self.reader.init()
        except OSError:
            self._reader_fault(now)
            return False
        self._reader_failures = 0
        if self.led.fault:
            self.outbox.push("FAULT", ("clear",), now)
        self.led.fault = False
        return True

    def _reader_fault(self, now):
        if not self.led.fault:
            self.outbox.push("FAULT", ("reader",), now)
        self.led.fault = True
        self._reader_ok = False
        self._reader_fault_at = now

    # -- outbound ------------------------------------------------------------------------
    def _send(self, now):
        frame = self.outbox.due(now)
        if frame is not None:
            self._write(frame)
        elif self.clock.ticks_diff(now, self._last_write) >= self.s.heartbeat_ms:
            self._write(encode("HB", self.outbox.last_seq))

    def _write(self, frame):
        self._last_write = self.clock.ticks_ms()
        self.link.write(frame)

    def _show(self, now):
        color = self.led.color(now)
        if color != self._shown:
            self._shown = color
            self.light.show(color)
