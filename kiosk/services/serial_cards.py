"""A plain serial card reader that sends `CARD <id>` lines: read on its own thread, reconnect when lost."""
from __future__ import annotations

import logging
import threading
from typing import Callable

import serial

from kiosk.services.cards import parse_serial_line
from kiosk.services.peripheral_codec import LineSplitter
from kiosk.status import ReaderStatus
from vision.callbacks import call_safely

logger = logging.getLogger(__name__)

MAX_LINE_BYTES = 256  # a card line is short; anything longer is noise and is dropped whole


class SerialCardReader:
    """`SerialCardReader(port, on_card, on_state)`; `start()` / `stop()`. Callbacks run on the reader thread.

    `on_card` gets the id of every `CARD <id>` line ('' when the id is missing, so the kiosk can say the
    read was bad); other lines are ignored. A lost or absent port is retried with back-off.
    """

    def __init__(
        self,
        port: str,
        on_card: Callable[[str], None],
        on_state: Callable[[ReaderStatus], None] | None = None,
        baudrate: int = 9600,
        retry_min_s: float = 0.5,
        retry_max_s: float = 5.0,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self._on_card = on_card
        self._on_state = on_state
        self._retry = (retry_min_s, retry_max_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lines_read = 0
        self.lines_ignored = 0

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="serial-cards", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _state(self, state: ReaderStatus) -> None:
        call_safely(self._on_state, state, logger, "serial reader state listener")

    def _run(self) -> None:
        delay = self._retry[0]
        while not self._stop.is_set():
            self._state(ReaderStatus.CONNECTING)
            try:
                with serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.2) as link:
                    logger.info("Serial card reader on %s connected", self.port)
                    self._state(ReaderStatus.CONNECTED)
                    delay = self._retry[0]
                    self._read(link)
            except (serial.SerialException, OSError) as exc:
                logger.warning("Serial card reader %s: %s; retrying in %.1f s", self.port, exc, delay)
            if self._stop.is_set():
                break
            self._state(ReaderStatus.DISCONNECTED)
            self._stop.wait(delay)
            delay = min(delay * 2, self._retry[1])

    def _read(self, link: serial.SerialBase) -> None:
        # Bounded lines: an over-long one is dropped up to its line end; before, only its first 256 bytes
        # were, and the rest was read as a line of its own (noise could pass for a `CARD` line).
        splitter = LineSplitter(MAX_LINE_BYTES)
        while not self._stop.is_set():
            chunk = link.read(link.in_waiting or 1)
            if not chunk:
                continue
            for raw in splitter.feed(chunk):
                self._line(raw)
            if splitter.overflows:
                logger.warning("Serial card reader %s: %d over-long line(s) dropped", self.port, splitter.overflows)
                self.lines_ignored += splitter.overflows
                splitter.overflows = 0

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            return
        card = parse_serial_line(text)
        if card is None:
            self.lines_ignored += 1
            logger.debug("Serial card reader: ignored a line that is not CARD <id>")
            return
        self.lines_read += 1
        call_safely(self._on_card, card, logger, "serial card callback")  # the reader survives a failing consumer
