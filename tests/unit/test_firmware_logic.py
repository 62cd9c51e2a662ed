"""Firmware logic under CPython with a fake `machine`: debouncing, lock-out, card taps, LED,
outbox re-sends and de-duplication, and the board loop through hal's pins, PWM and SPI."""
from __future__ import annotations

import pytest

from helpers import fake_machine
from helpers.reader_transcripts import ScriptedChip

fake_machine.install()

import hal  # noqa: E402
from app.board import Board, Settings  # noqa: E402
from app.buttons import ButtonPanel  # noqa: E402
from app.cardtap import CardTap  # noqa: E402
from app.led import COLORS, Led  # noqa: E402
from app.link import Dedup, Outbox  # noqa: E402
from app.protocol import LineReader, decode, encode  # noqa: E402


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000

    def ticks_ms(self) -> int:
        return self.now

    @staticmethod
    def ticks_diff(new: int, old: int) -> int:
        return new - old

    def sleep_ms(self, ms: int) -> None:
        self.now += ms


class MemLink:
    """The host end as a byte pipe: `inbox` is what the board will read, `sent` what it wrote."""

    def __init__(self) -> None:
        self.inbox = bytearray()
        self.sent = bytearray()
        self._reader = LineReader()

    def read(self) -> bytes:
        data, self.inbox = bytes(self.inbox), bytearray()
        return data

    def write(self, frame: bytes) -> None:
        self.sent += frame

    def frames(self) -> list[tuple]:
        out = [decode(line) for line in self._reader.feed(bytes(self.sent))]
        self.sent.clear()
        return out


# -- pure pieces ---------------------------------------------------------------------------
def test_bouncing_contact_is_one_press_and_a_held_button_never_repeats() -> None:
    panel = ButtonPanel(("happy", "neutral", "unhappy"), stable_ms=25, lockout_ms=1500)
    presses = []
    t = 0
    for level in (1, 0, 1, 0, 1, 1, 0, 1) + (1,) * 40:  # contact bounce, then held for 200 ms
        presses.append(panel.poll({"happy": bool(level)}, t))
        t += 5
    assert [p for p in presses if p] == ["happy"]
    for _ in range(500):  # held for 2.5 s more: past the lock-out, still no repeat
        assert panel.poll({"happy": True}, t) is None
        t += 5


def test_lockout_swallows_a_second_press_then_lets_the_next_through() -> None:
    panel = ButtonPanel(("happy", "neutral", "unhappy"), stable_ms=20, lockout_ms=1500)

    def press(name: str, t: int) -> list:
        out = [panel.poll({name: True}, t + d) for d in range(0, 60, 5)]
        out += [panel.poll({name: False}, t + 60 + d) for d in range(0, 60, 5)]
        return [p for p in out if p]

    assert press("happy", 0) == ["happy"]
    assert press("unhappy", 300) == []  # within the lock-out: a burst, not a second opinion
    assert panel.suppressed == 1
    assert press("neutral", 2000) == ["neutral"]


def test_held_card_is_one_tap_and_removal_makes_the_next_a_new_tap() -> None:
    taps = CardTap(gone_ms=800)
    uid = bytes.fromhex("04A1B2C3")
    seen = [taps.seen(uid if t != 500 else None, t) for t in range(0, 3000, 100)]  # one missed poll
    assert [s for s in seen if s] == ["04A1B2C3"]
    assert taps.seen(None, 3000) is None
    assert taps.seen(uid, 4000) == "04A1B2C3"  # gone for 1 s, back: a new tap
    assert taps.seen(bytes.fromhex("04223344556680"), 4100) == "04223344556680"


def test_led_priorities_flash_fault_nohost_base() -> None:
    led = Led(flash_ms=1500, blink_ms=500)
    assert led.state(0) == "nohost" and led.color(500) == (0, 0, 0)  # blinking
    led.host_ok = True
    assert led.state(0) == "idle" and led.color(0) == COLORS["idle"]
    led.command("card", 100)
    assert led.state(1000) == "card" and led.state(1700) == "idle"
    led.fault = True
    assert led.state(1800) == "error"
    led.fault = False
    led.command("error", 1900)
    assert led.state(2000) == "error"
    with pytest.raises(ValueError):
        led.command("disco", 0)


def test_outbox_resends_boundedly_and_acks_in_order() -> None:
    box = Outbox(("B00710AD", "1.0.0", "1"), resend_ms=300, max_attempts=3, ttl_ms=20000)
    assert decode(box.due(0)[:-1])[0] == "HELLO"
    assert box.due(100) is None  # not yet time to re-send
    s1 = box.push("BTN", ("happy",), 100)
    assert box.ack(s1) is False  # HELLO is still in flight
    assert box.due(300) == encode("HELLO", 0, ("B00710AD", "1.0.0", "1"))
    assert box.ack(0)
    assert box.due(301) == encode("BTN", s1, ("happy",))
    assert box.due(601) == encode("BTN", s1, ("happy",))  # lost ACK: same seq again
    assert box.due(901) == encode("BTN", s1, ("happy",))
    assert box.due(1201) is None and box.stalled  # three attempts, then wait for the host
    box.resume()
    assert box.due(1202) == encode("BTN", s1, ("happy",))
    assert box.ack(s1) and len(box) == 0 and box.resent == 3


def test_outbox_drops_stale_events() -> None:
    box = Outbox(("B00710AD", "1.0.0", "1"), ttl_ms=1000)
    box.ack(0) if box.due(0) else None
    box.push("CARD", ("04A1B2C3",), 0)
    assert box.due(5000) is None and box.expired == 1


def test_dedup_window() -> None:
    d = Dedup(size=3)
    assert [d.is_new(s) for s in (1, 2, 1, 3, 4, 5, 1)] == [True, True, False, True, True, True, True]


# -- the board loop on fake hardware --------------------------------------------------------
@pytest.fixture()
def board() -> tuple[Board, MemLink, FakeClock, ScriptedChip]:
    fake_machine.reset_state()
    chip = ScriptedChip()
    fake_machine.SPI_DEVICES[0] = chip
    link, clock = MemLink(), FakeClock()
    b = Board(link, hal.Buttons(), hal.make_reader(), hal.RgbLight(), clock, "B00710AD", Settings(max_attempts=4))
    return b, link, clock, chip


def _run(b: Board, clock: FakeClock, ms: int, step: int = 5) -> None:
    for _ in range(ms // step):
        b.step()
        clock.sleep_ms(step)


def _host_says(link: MemLink, *frames: bytes) -> None:
    for f in frames:
        link.inbox += f


def test_board_announces_then_delivers_a_tap_and_a_press_once(board) -> None:
    b, link, clock, chip = board
    _run(b, clock, 20)
    assert link.frames() == [("HELLO", 0, ("B00710AD", "1.0.0", "1"))]
    _host_says(link, encode("HOST", 0, ("1", "AA"), ), encode("ACK", 0))
    _run(b, clock, 50)
    assert ("ACK", 0, ()) in link.frames()
    chip.tap_on()
    _run(b, clock, 1000)  # card held for a second: many polls
    chip.tap_off()
    frames = link.frames()
    cards = [f for f in frames if f[0] == "CARD"]
    assert len(set(cards)) == 1 and cards[0][2] == ("04A1B2C3",)
    assert chip.polls_with_card >= 5
    assert fake_machine.PWMS[14].duty == 255 * 257  # green: card read
    _host_says(link, encode("ACK", cards[0][1]))
    fake_machine.PINS[hal.PINS["neutral"]].level = 0  # pressed (pull-up reads 0)
    _run(b, clock, 100)
    fake_machine.PINS[hal.PINS["neutral"]].level = 1
    _run(b, clock, 100)
    btns = [f for f in link.frames() if f[0] == "BTN"]
    assert btns and all(f == btns[0] for f in btns) and btns[0][2] == ("neutral",)
    assert b.events == 2


def test_board_goes_nohost_and_announces_again_after_a_host_restart(board) -> None:
    b, link, clock, _ = board
    _run(b, clock, 20)
    _host_says(link, encode("HOST", 0, ("1", "AA")), encode("ACK", 0), encode("LED", 1, ("idle",)))
    _run(b, clock, 50)
    assert fake_machine.PWMS[15].duty == 48 * 257  # idle blue
    _run(b, clock, 4000)  # host silent longer than its 3.5 s timeout
    assert b.led.state(clock.now) == "nohost"
    link.frames()
    _host_says(link, encode("HOST", 0, ("1", "BB")))  # a new host session
    _run(b, clock, 20)
    assert ("HELLO", 0, ("B00710AD", "1.0.0", "1")) in link.frames()
    assert b.led.state(clock.now) == "idle"


def test_board_acks_repeated_led_command_but_applies_it_once(board) -> None:
    b, link, clock, _ = board
    _host_says(link, encode("HOST", 0, ("1", "AA")), encode("ACK", 0))
    _run(b, clock, 20)
    link.frames()
    _host_says(link, encode("LED", 7, ("error",)))
    _run(b, clock, 10)
    b.led.command("idle", clock.now)  # local change after the first command...
    _host_says(link, encode("LED", 7, ("error",)))  # ...a re-send of the same command must not undo it
    _run(b, clock, 10)
    assert [f for f in link.frames() if f[0] == "ACK"] == [("ACK", 7, ()), ("ACK", 7, ())]
    assert b.led.base == "idle"


def test_board_reports_a_dead_reader_and_keeps_serving_buttons(board) -> None:
    fake_machine.reset_state()

    class DeadBus:
        def write(self, buf: bytes) -> None:
            pass

        def write_readinto(self, out: bytes, into: bytearray) -> None:
            into[:] = b"\x00\xff"

    fake_machine.SPI_DEVICES[0] = DeadBus()
    link, clock = MemLink(), FakeClock()
    b = Board(link, hal.Buttons(), hal.make_reader(), hal.RgbLight(), clock, "B00710AD")
    _host_says(link, encode("HOST", 0, ("1", "AA")), encode("ACK", 0))
    _run(b, clock, 40)
    frames = link.frames()
    assert ("FAULT", 1, ("reader",)) in frames
    assert b.led.state(clock.now) == "error"
    assert fake_machine.PWMS[13].duty == 255 * 257


def test_watchdog_is_fed_every_loop_and_a_restart_says_hello_with_a_new_boot_id(board) -> None:
    b, link, clock, _ = board
    wdt = fake_machine.WDT(timeout=hal.WDT_TIMEOUT_MS)
    loops = iter(range(50))
    b.run(feed=wdt.feed, should_stop=lambda: next(loops, None) is None)
    assert wdt.feeds == 50
    first = hal.boot_id()
    second = hal.boot_id()
    assert first != second and len(first) == 8
    with pytest.raises(ValueError):
        fake_machine.WDT(timeout=10000)  # the rp2 limit is honoured by hal's default


def test_host_asking_again_gets_hello_at_once_even_mid_resend() -> None:
    box = Outbox(("B00710AD", "1.0.0", "1"), resend_ms=300)
    assert box.due(0) is not None
    assert box.due(10) is None
    box.announce()  # HOST arrived: answer now, not at the next re-send tick
    assert decode(box.due(11)[:-1])[0] == "HELLO"


def test_kiosk_flash_ends_the_kiosk_error_but_a_local_flash_does_not() -> None:
    led = Led(flash_ms=1500, blink_ms=500)
    led.host_ok = True
    led.host_command("error", 0)
    led.command("card", 100)  # a tap on the board itself: the kiosk has not answered yet
    assert led.state(200) == "card" and led.state(1700) == "error"
    led.host_command("card", 1800)  # the kiosk's screen moved on (offers)
    assert led.state(1900) == "card" and led.state(3400) == "idle" and led.base == "idle"
    led.host_command("idle", 3500)
    assert led.state(3600) == "idle"
