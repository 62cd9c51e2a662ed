"""PeripheralLink against a hand-driven board on a real pty: the host's own rules, frame by frame."""
from __future__ import annotations

import os
import time
import tty
from pathlib import Path

import pytest

from helpers.pty_board import wait_until

from kiosk.services.peripheral import LinkTimings, PeripheralLink
from kiosk.status import ReaderStatus
from kiosk.services.peripheral_codec import Frame, LineSplitter, decode, encode

pytestmark = pytest.mark.timeout(60)

# The hand-driven board sends no heartbeats, so the kiosk's silence timeout is long here (a busy CI
# machine must not cause a reconnect mid-test) except in the test about silence itself.
FAST = LinkTimings(backoff_min_s=0.05, backoff_max_s=0.2, peer_timeout_s=5.0, handshake_s=1.0, heartbeat_s=0.3)
IMPATIENT = LinkTimings(backoff_min_s=0.05, backoff_max_s=0.2, peer_timeout_s=0.8, handshake_s=1.0)


class HandBoard:
    """The board side of a pty, driven frame by frame by the test."""

    def __init__(self, tmp: Path) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = str(tmp / "ttyHAND")
        os.symlink(os.ttyname(self.slave), self.port)
        self._split = LineSplitter()
        self.received: list[Frame] = []

    def send(self, kind: str, seq: int, *payload: str) -> None:
        os.write(self.master, encode(Frame(kind, seq, payload)))

    def expect(self, kind: str, timeout: float = 3.0, seq: int | None = None) -> Frame:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.received:
                if frame.kind == kind and (seq is None or frame.seq == seq):
                    self.received.remove(frame)
                    return frame
            os.set_blocking(self.master, False)
            try:
                data = os.read(self.master, 4096)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            self.received += [decode(line) for line in self._split.feed(data)]
        raise AssertionError(f"no {kind} {seq if seq is not None else ''} from the host; got {self.received}")

    def drain(self) -> list[Frame]:
        time.sleep(0.2)
        try:
            self.received += [decode(line) for line in self._split.feed(os.read(self.master, 4096))]
        except BlockingIOError:
            pass
        out, self.received = self.received, []
        return out

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture()
def hand(tmp_path: Path):
    board = HandBoard(tmp_path)
    seen: dict[str, list] = {"cards": [], "buttons": [], "states": []}
    link = PeripheralLink(
        board.port, seen["cards"].append, seen["buttons"].append, seen["states"].append, timings=FAST
    )
    link.start()
    try:
        yield board, link, seen
    finally:
        link.stop()
        board.close()


def _handshake(board: HandBoard, boot: str = "0BAD1DEA") -> None:
    board.expect("HOST", seq=0)
    board.send("HELLO", 0, boot, "1.0.0", "1")
    board.expect("ACK", seq=0)


def test_events_before_hello_are_not_acknowledged(hand) -> None:
    board, link, seen = hand
    board.expect("HOST")
    board.send("BTN", 1, "happy")
    assert not [f for f in board.drain() if f.kind == "ACK"]
    board.send("HELLO", 0, "0BAD1DEA", "1.0.0", "1")
    board.expect("ACK", seq=0)
    board.send("BTN", 1, "happy")
    board.expect("ACK", seq=1)
    wait_until(lambda: seen["buttons"] == ["happy"], 2.0, "the press")
    assert link.firmware_version == "1.0.0"


def test_other_protocol_version_is_reported_and_its_events_ignored(hand) -> None:
    board, link, seen = hand
    board.expect("HOST")
    board.send("HELLO", 0, "0BAD1DEA", "2.0.0", "2")
    wait_until(lambda: ReaderStatus.INCOMPATIBLE in seen["states"], 3.0, "incompatible state")
    board.send("CARD", 1, "04A1B2C3")
    assert not [f for f in board.drain() if f.kind == "ACK" and f.seq == 1]
    for _ in range(6):  # keeps talking heartbeats for longer than the handshake timeout: no reconnect churn
        board.send("HB", 0)
        time.sleep(0.25)
    frames = board.drain()
    assert not [f for f in frames if f.kind in ("HOST", "LED")]
    assert seen["cards"] == [] and link.state == ReaderStatus.INCOMPATIBLE and ReaderStatus.DISCONNECTED not in seen["states"]


def test_valid_crc_with_bad_payload_is_acked_dropped_and_does_not_block_the_next(hand) -> None:
    board, link, seen = hand
    _handshake(board)
    board.send("CARD", 1, "04a1")  # malformed UID
    board.expect("ACK", seq=1)
    board.send("BTN", 2, "ecstatic")
    board.expect("ACK", seq=2)
    board.send("CARD", 3, "04A1B2C3")
    board.expect("ACK", seq=3)
    board.send("CARD", 3, "04A1B2C3")  # re-send after a lost ACK
    board.expect("ACK", seq=3)
    wait_until(lambda: link.stats.duplicates == 1, 2.0, "the re-send to be recognised")
    assert seen["cards"] == ["04A1B2C3"] and seen["buttons"] == []
    assert link.stats.rejected == 2 and link.stats.duplicates == 1


def test_a_failing_callback_does_not_stop_the_link(tmp_path: Path) -> None:
    board = HandBoard(tmp_path)
    calls: list[str] = []
    cards: list[str] = []

    def explode(face: str) -> None:  # the kiosk's handler has a bug
        calls.append(face)
        raise RuntimeError("kiosk bug")

    link = PeripheralLink(board.port, cards.append, explode, lambda _s: None, timings=FAST)
    link.start()
    try:
        _handshake(board)
        board.send("BTN", 1, "happy")
        board.expect("ACK", seq=1)
        board.send("CARD", 2, "04A1B2C3")
        board.expect("ACK", seq=2)
        wait_until(lambda: cards == ["04A1B2C3"], 10.0, "the card after the failing press")
        assert calls == ["happy"] and link.state == ReaderStatus.CONNECTED
    finally:
        link.stop()
        board.close()


def test_led_wish_is_sent_resent_until_acked_and_heartbeats_flow(hand) -> None:
    board, link, seen = hand
    _handshake(board)
    first = board.expect("LED")
    assert first.payload == ("idle",)
    again = board.expect("LED", seq=first.seq)  # no ACK yet: same SEQ again
    board.send("ACK", again.seq)
    link.set_led("error")
    led = board.expect("LED", seq=first.seq + 1)
    assert led.payload == ("error",)
    board.send("ACK", led.seq)
    board.expect("HB")
    with pytest.raises(ValueError, match="LED state"):
        link.set_led("disco")


def test_fault_report_reaches_the_service_line(hand) -> None:
    board, link, seen = hand
    _handshake(board)
    board.send("FAULT", 1, "reader")
    wait_until(lambda: link.state == ReaderStatus.READER_FAULT, 3.0, "reader-fault state")
    board.send("FAULT", 2, "clear")
    wait_until(lambda: link.state == ReaderStatus.CONNECTED, 3.0, "fault cleared")


def test_silent_board_means_reconnect(tmp_path: Path) -> None:
    board = HandBoard(tmp_path)
    states: list[str] = []
    link = PeripheralLink(board.port, print, print, states.append, timings=IMPATIENT)
    link.start()
    try:
        _handshake(board)
        wait_until(lambda: link.state == ReaderStatus.CONNECTED, 3.0, "connected")
        board.drain()  # forget the handshake's HOST frames
        # say nothing: after peer_timeout the host drops the port and opens it again with a new HOST
        wait_until(lambda: ReaderStatus.DISCONNECTED in states[states.index(ReaderStatus.CONNECTED):], 3.0, "disconnect")
        assert board.expect("HOST", timeout=3.0).seq == 0
    finally:
        link.stop()
        board.close()


def test_a_second_program_cannot_open_the_port_while_the_kiosk_has_it(hand) -> None:
    board, link, seen = hand
    _handshake(board)
    wait_until(lambda: link.state == ReaderStatus.CONNECTED, 3.0, "connected")
    states: list[str] = []
    intruder = PeripheralLink(board.port, print, print, states.append, timings=FAST)
    intruder.start()
    try:
        wait_until(lambda: ReaderStatus.DISCONNECTED in states, 3.0, "the second opener to be refused")
    finally:
        intruder.stop()
    board.send("BTN", 1, "happy")
    board.expect("ACK", seq=1)
    wait_until(lambda: seen["buttons"] == ["happy"], 2.0, "the press on the kiosk's link")
    assert ReaderStatus.CONNECTED not in states
