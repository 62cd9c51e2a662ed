"""The firmware's board loop in a thread under CPython, wired to a real pseudo-terminal pair.

The host opens `PtyBoard.port` (a stable symlink, like /dev/serial/by-id/...) with pyserial; the
board reads and writes the pty's master side. Faults are injected on the board's side of the wire:
garbage, a truncated or CRC-damaged outgoing frame, dropped ACKs, a board reset (new boot id), and
unplug/replug (the pty disappears and a new one appears behind the same symlink).
"""
from __future__ import annotations

import os
import threading
import time
import tty
from pathlib import Path
from typing import Callable

from helpers import fake_machine
from helpers.reader_transcripts import ScriptedChip

fake_machine.install()

import hal  # noqa: E402
from app.board import Board, Settings  # noqa: E402


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll a cheap predicate every 10 ms; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(0.01)


class PtyLink:
    """Board side of the wire (the pty master), with fault injection. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.master: int | None = None
        self.slave: int | None = None
        self.to_host_garbage = bytearray()
        self.to_board_garbage = bytearray()
        self.mangle_next: list[Callable[[bytes], bytes]] = []
        self.drop_acks = 0
        self.dropped_acks = 0
        self.written: list[bytes] = []
        self._inbuf = bytearray()

    def open(self) -> str:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF translation: a USB CDC port is raw too
        os.set_blocking(master, False)
        with self._lock:
            self.master, self.slave = master, slave
            self._inbuf.clear()
        return os.ttyname(slave)

    def close(self) -> None:
        with self._lock:
            for fd in (self.master, self.slave):
                if fd is not None:
                    os.close(fd)
            self.master = self.slave = None

    def read(self) -> bytes:
        with self._lock:
            if self.master is None:
                return b""
            try:
                self._inbuf += os.read(self.master, 4096)
            except (BlockingIOError, OSError):
                pass
            garbage, self.to_board_garbage = bytes(self.to_board_garbage), bytearray()
            cut = self._inbuf.rfind(b"\n") + 1
            lines, self._inbuf = bytes(self._inbuf[:cut]), self._inbuf[cut:]
            if self.drop_acks:
                kept = []
                for line in lines.splitlines(keepends=True):
                    if self.drop_acks and line.startswith(b"ACK "):
                        self.drop_acks -= 1
                        self.dropped_acks += 1
                        continue
                    kept.append(line)
                lines = b"".join(kept)
            return garbage + lines

    def write(self, frame: bytes) -> None:
        with self._lock:
            if self.mangle_next:
                frame = self.mangle_next.pop(0)(frame)
            data = bytes(self.to_host_garbage) + frame
            self.to_host_garbage.clear()
            self.written.append(frame)
            if self.master is None:
                return  # unplugged: the bytes go nowhere, as on a real cable
            try:
                os.write(self.master, data)
            except OSError:
                pass


class PtyBoard:
    """Owns the pty, a symlink to it, the fake hardware and the board thread."""

    def __init__(self, workdir: Path, settings: Settings | None = None) -> None:
        fake_machine.reset_state()
        self.port = str(workdir / "ttyPERIPH")
        self.settings = settings or Settings(button_lockout_ms=300)
        self.chip = ScriptedChip()
        fake_machine.SPI_DEVICES[0] = self.chip
        self.link = PtyLink()
        self.wdt = fake_machine.WDT(timeout=hal.WDT_TIMEOUT_MS)
        self.board: Board | None = None
        self.boots: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._point_symlink(self.link.open())
        self._boot()

    def _boot(self) -> None:
        self.chip = ScriptedChip()  # a reset re-runs the reader's init
        fake_machine.SPI_DEVICES[0] = self.chip
        self.board = hal.build_board(link=self.link, settings=self.settings)
        self.boots.append(self.board.boot_id)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="fake-board", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            self.board.run(feed=self.wdt.feed, should_stop=self._stop.is_set, idle_ms=2)
        except BaseException as exc:  # surfaced by the test through self.errors
            self.errors.append(exc)

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def reset(self) -> None:
        """Watchdog/power reset: RAM (queue, sequence numbers, boot id) is gone; the port stays."""
        self._halt()
        self._boot()

    def unplug(self) -> None:
        os.unlink(self.port)
        self.link.close()

    def replug(self, reset: bool = False) -> None:
        """A new pty appears behind the same symlink; with reset=True the board also rebooted."""
        if reset:
            self._halt()
        self._point_symlink(self.link.open())
        if reset:
            self._boot()

    def stop(self) -> None:
        self._halt()
        self.link.close()
        if os.path.islink(self.port):
            os.unlink(self.port)

    def _point_symlink(self, target: str) -> None:
        tmp = self.port + ".new"
        os.symlink(target, tmp)
        os.replace(tmp, self.port)

    # -- the shopper's hands -------------------------------------------------------------------
    def press(self, face: str) -> None:
        """Press and release a button like a person (with a held time past the debounce)."""
        board = self.board
        wait_until(lambda: not board.panel.locked(board.clock.ticks_ms()), 3.0, "the button lock-out to end")
        before = board.events
        pin = fake_machine.PINS[hal.PINS[face]]
        pin.level = 0
        wait_until(lambda: self.board.events > before, 2.0, f"the board to accept {face}")
        time.sleep(0.03)
        pin.level = 1

    def tap(self, hold_s: float = 0.4) -> None:
        before = self.board.events
        self.chip.tap_on()
        wait_until(lambda: self.board.events > before, 2.0, "the board to read the card")
        time.sleep(hold_s)
        self.chip.tap_off()
