"""Turns callbacks from worker threads (camera, telemetry, card readers) into queued Qt signals for the UI thread."""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from kiosk.services.telemetry import TelemetryState
from kiosk.status import ReaderStatus
from kiosk.ui.signals import emit
from vision.types import FrameResult, SourceEvent


class KioskBridge(QObject):
    """Create it in the UI thread; its `on_*` methods may be called from any thread and never block.

    Frames are coalesced: only the newest waits in a one-slot mailbox, so a busy UI skips stale frames
    instead of queueing them (the skips are counted). QR texts and events are never dropped.
    """

    frame_ready = Signal()
    qr_seen = Signal(str)
    source_event = Signal(SourceEvent)
    telemetry_state = Signal(TelemetryState)
    card_read = Signal(str, str)  # raw text, source ("serial", "peripheral", ...)
    button_pressed = Signal(str)  # feedback face from the peripheral's buttons
    reader_state = Signal(ReaderStatus)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._frame: FrameResult | None = None
        self._pending = False
        self.frames_in = 0
        self.frames_skipped = 0

    # ----- worker-thread side ---------------------------------------------------------------------
    def on_frame(self, result: FrameResult) -> None:
        """A frame's result (faces, QR text; never pixels) from the pipeline's worker."""
        qr_text = result.qr_text
        with self._lock:
            self.frames_in += 1
            if self._pending:
                self.frames_skipped += 1
            self._frame = result
            notify = not self._pending
            self._pending = True
        if notify:
            emit(self.frame_ready)
        if qr_text:
            emit(self.qr_seen, qr_text)

    def on_source_event(self, event: SourceEvent) -> None:
        emit(self.source_event, event)

    def on_telemetry_state(self, state: TelemetryState) -> None:
        emit(self.telemetry_state, state)

    def on_card(self, card_id: str, source: str = "serial") -> None:
        emit(self.card_read, card_id, source)

    def on_button(self, face: str) -> None:
        emit(self.button_pressed, face)

    def on_reader_state(self, state: ReaderStatus) -> None:
        emit(self.reader_state, state)

    # ----- UI-thread side -------------------------------------------------------------------------
    def take_frame(self) -> FrameResult | None:
        """The newest frame (or None), emptying the mailbox."""
        with self._lock:
            frame, self._frame, self._pending = self._frame, None, False
        return frame
