"""The vision pipeline: capture thread -> newest frame -> detect, classify, track, aggregate -> callbacks.

`FrameProcessor` is the synchronous per-frame core (also what `moodkiosk bench` times); `VisionPipeline`
runs it on a worker thread fed by the capture thread and calls the kiosk back from that worker thread.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from vision.aggregate import MoodAggregator
from vision.callbacks import call_safely
from vision.analysis_gate import AnalysisGate, GateState
from vision.crop import crop_faces
from vision.dwell import DwellFilter
from vision.errors import VisionError
from vision.expression import ExpressionClassifier
from vision.faces import FaceDetector
from vision.frame_format import FrameFormatError, to_bgr8
from vision.settings import VisionSettings
from vision.sources import CaptureThread, Frame, FrameSlot, FrameSource, open_source
from vision.tracking import Tracker, TrackUpdate
from vision.types import FrameResult, MoodWindow, SourceEvent

logger = logging.getLogger(__name__)

_REJECTED_RUN_DOWN = 3  # unreadable frames in a row that make the camera "down" on the service line
FrameCallback = Callable[[FrameResult], None]
WindowCallback = Callable[[MoodWindow], None]
EventCallback = Callable[[SourceEvent], None]


@dataclass(frozen=True, slots=True)
class Processed:
    """One processed frame: the public result and the confirmed people (track id -> label) for aggregation."""

    result: FrameResult
    people: dict[int, str | None]
    dropped: frozenset[int] = frozenset()  # tracks found dwelling too long at this frame: out of the windows


class FrameProcessor:
    """Detect -> crop -> classify (one batch) -> track, plus throttled QR decoding, for one frame at a time."""

    def __init__(self, settings: VisionSettings, detector: FaceDetector | None = None,
                 classifier: ExpressionClassifier | None | bool = True) -> None:
        self.settings = settings
        self.detector = detector or FaceDetector(
            settings.detector_path, settings.camera.min_score, settings.camera.min_face_px, settings.max_faces
        )
        if classifier is True:
            try:
                classifier = (
                    ExpressionClassifier(settings.expression_model, settings.camera.threads) if settings.expression_model else None
                )
            except BaseException:
                self.detector.close()  # MediaPipe's own finaliser fails noisily at interpreter exit
                raise
        self.classifier: ExpressionClassifier | None = classifier or None
        classes = self.classifier.classes if self.classifier else None
        self.tracker = Tracker(
            classes,
            iou=settings.track_iou,
            center_ratio=settings.track_center_ratio,
            max_missed_s=settings.track_max_missed_s,
            min_hits=settings.track_min_hits,
            tau_s=settings.smoothing_tau_s,
            threshold=settings.mood.confidence_threshold,
        )
        self._qr = cv2.QRCodeDetector() if settings.camera.qr else None
        self._frames = 0
        self.dwell = DwellFilter(settings.mood.max_dwell_s)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.classifier.classes if self.classifier else ()

    @property
    def model_version(self) -> str:
        return self.classifier.version if self.classifier else "none"

    def process(self, image: np.ndarray, timestamp: float, every_qr: bool = False) -> Processed:
        """Run one BGR frame ``(H, W, 3) uint8`` taken at `timestamp` (epoch seconds); `every_qr` decodes QR
        codes in this frame whatever qr_every_n says (the idle rate already thins the frames out)."""
        t0 = time.perf_counter()
        image = to_bgr8(image)  # a gray, 16-bit or BGRA camera frame; FrameFormatError for no picture at all
        image = self.settings.camera.privacy_zones.blank(image)  # a till or staff area is never analysed
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        t1 = time.perf_counter()
        detections = self.detector.detect(rgb)
        t2 = time.perf_counter()
        probs = None
        if self.classifier is not None and detections:
            crops = crop_faces(gray, [d.box for d in detections], self.classifier.input_size)
            probs = self.classifier.classify(crops)
        t3 = time.perf_counter()
        update: TrackUpdate = self.tracker.update(detections, probs, timestamp)
        t4 = time.perf_counter()
        qr_text = None
        if self._qr is not None and (every_qr or self._frames % self.settings.qr_every_n == 0):
            qr_text = self.decode_qr(gray)
        t5 = time.perf_counter()
        self._frames += 1
        timings = {
            "convert": (t1 - t0) * 1000.0,
            "detect": (t2 - t1) * 1000.0,
            "classify": (t3 - t2) * 1000.0,
            "track": (t4 - t3) * 1000.0,
            "qr": (t5 - t4) * 1000.0,
            "total": (t5 - t0) * 1000.0,
        }
        people, dropped = self.dwell.apply(update.people, self.tracker.first_seen(), timestamp)
        return Processed(FrameResult(timestamp, update.faces, qr_text, timings), people, dropped)

    def withhold(self, image: np.ndarray, timestamp: float) -> FrameResult:
        """A frame that must not be analysed (mood reading paused, store closed): no detection, no tracking;
        only a loyalty-app QR code the shopper holds up is still read (outside the privacy zones)."""
        qr_text = None
        if self._qr is not None and self._frames % self.settings.qr_every_n == 0:
            blanked = self.settings.camera.privacy_zones.blank(to_bgr8(image))
            qr_text = self.decode_qr(cv2.cvtColor(blanked, cv2.COLOR_BGR2GRAY))
        self._frames += 1
        return FrameResult(timestamp, (), qr_text, {"total": 0.0, "classify": 0.0})

    def decode_qr(self, gray: np.ndarray) -> str | None:
        """The text of a QR code in a gray frame, or None (also when QR decoding is off)."""
        if self._qr is None:
            return None
        try:
            text, _points, _ = self._qr.detectAndDecode(gray)
        except cv2.error as exc:  # a malformed code must not stop the camera
            logger.debug("QR decode failed: %s", exc)
            return None
        return text or None

    def close(self) -> None:
        self.detector.close()


class VisionPipeline:
    """Capture and inference in their own threads; results through callbacks called from the worker thread.

    `start()` loads the models first and raises `VisionError` (one-line message) if they are unusable; source
    problems after that arrive as `SourceEvent`s. `stop()` stops both threads and joins them.
    """

    def __init__(
        self,
        settings: VisionSettings,
        on_frame: FrameCallback | None = None,
        on_window: WindowCallback | None = None,
        on_source_event: EventCallback | None = None,
        *,
        source: FrameSource | None = None,
        epoch: float | None = None,
        gate: AnalysisGate | None = None,
    ) -> None:
        self.settings = settings
        self._on_frame = on_frame
        self._on_window = on_window
        self._on_event = on_source_event
        self._source = source
        self._epoch = epoch
        self._gate = gate  # None: always analyse (e.g. `moodkiosk analyze`)
        self._withheld = 0
        self._rejected = 0  # frames that were no readable picture (FrameFormatError), skipped
        self._rejected_run = 0  # unreadable frames in a row
        self._gate_state = GateState.OPEN
        self._stop = threading.Event()
        self._done = threading.Event()
        self._slot = FrameSlot()
        self._capture: CaptureThread | None = None
        self._worker: threading.Thread | None = None
        self._processor: FrameProcessor | None = None
        self._aggregator: MoodAggregator | None = None
        self._live = True
        self._frames = 0
        self._started_at = 0.0
        self._ms_total = 0.0
        self._ms_classify = 0.0
        self._last_ts: float | None = None
        self._last_face = 0.0  # time.monotonic() when a face was last in view (adaptive rate)
        self._beat = time.monotonic()  # the worker loop's latest round (service watchdog)

    @property
    def model_version(self) -> str:
        return self._processor.model_version if self._processor else "none"

    @property
    def classes(self) -> tuple[str, ...]:
        return self._processor.classes if self._processor else ()

    def start(self) -> None:
        """Load models, then start the capture and worker threads."""
        if self._worker is not None:
            raise RuntimeError("pipeline already started")
        source = self._source or open_source(self.settings.camera.source, self.settings, self._epoch)
        self._live = source.live
        self._processor = FrameProcessor(self.settings)
        self._aggregator = MoodAggregator(self.settings.mood.window_seconds, self.settings.mood.k_anonymity, self._processor.classes)
        self._capture = CaptureThread(source, self._slot, self.settings, self._emit_event, self._stop)
        self._worker = threading.Thread(target=self._work, name="vision-worker", daemon=True)
        self._started_at = time.monotonic()
        self._worker.start()
        self._capture.start()
        logger.info("vision pipeline started on %s", source.name)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop capture and inference, join both threads (reverse start order), release the models."""
        self._stop.set()
        if self._capture is not None:
            self._capture.join(timeout)
        if self._worker is not None:
            self._worker.join(timeout)
            if self._worker.is_alive():  # stuck in a frame: leave the models to the process exit
                logger.warning("vision worker did not stop within %.1f s", timeout)
                return
        if self._processor is not None:
            self._processor.close()
            self._processor = None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a finite source has been processed to its end (or `timeout`); True when done."""
        return self._done.wait(timeout)

    def health(self) -> dict[str, float | int | str]:
        """Device figures for the kiosk's health report (nothing about people)."""
        elapsed = max(time.monotonic() - self._started_at, 1e-6)
        n = max(self._frames, 1)
        return {
            "fps": round(self._frames / elapsed, 2),
            "inference_ms": round(self._ms_total / n, 2),
            "classify_ms": round(self._ms_classify / n, 2),
            "frames": self._frames,
            "frames_dropped": self._slot.dropped,
            "frames_withheld": self._withheld,
            "frames_rejected": self._rejected,
            "frames_clock_stepped": self._aggregator.clock_step_frames if self._aggregator else 0,
            "clock_resets": self._aggregator.clock_resets if self._aggregator else 0,
            "idle": int(self.idle),
            "model_version": self.model_version,
        }

    def alive(self, max_age_s: float) -> bool:
        """For the service watchdog: the worker thread runs and went round its loop within `max_age_s`
        (it turns at least every 0.2 s, or once per idle frame; a frame stuck in a model stops it)."""
        worker = self._worker
        if worker is None or not worker.is_alive():
            return self._done.is_set()  # a finite source that ended is not a hang
        return time.monotonic() - self._beat <= max_age_s

    @property
    def idle(self) -> bool:
        """Whether the adaptive rate holds the pipeline at idle_fps now (nobody in view for idle_after_s)."""
        return (self._live and self.settings.camera.idle_fps > 0
                and time.monotonic() - self._last_face > self.settings.camera.idle_after_s)

    def _pace(self, last_processed: float) -> None:
        """Sleep until the next frame is due at the idle rate (nobody in view) or the active cap; the frames
        the camera delivers meanwhile are dropped by the one-slot handover, so the worker takes the newest."""
        if not self._live:
            return
        rate = self.settings.camera.idle_fps if self.idle else self.settings.camera.active_fps
        if rate > 0:
            remaining = last_processed + 1.0 / rate - time.monotonic()
            if remaining > 0:
                self._stop.wait(remaining)

    def _emit_event(self, event: SourceEvent) -> None:
        call_safely(self._on_event, event, logger, "vision event callback")

    def _deliver(self, windows: list[MoodWindow]) -> None:
        for window in windows:
            logger.info("mood window %s..%s: %d people, index %+.2f", window.start, window.end, window.people, window.mood_index)
            call_safely(self._on_window, window, logger, "vision window callback")

    def _withhold(self, frame: Frame) -> bool:
        """True when the gate says this frame must not be analysed; then it reaches neither the detector nor
        the aggregator. On pausing, the people in view leave the open window: a window closed during a
        shopper's pause holds none of their frames."""
        assert self._processor is not None and self._aggregator is not None
        state = self._gate.state(frame.timestamp) if self._gate is not None else GateState.OPEN
        previous, self._gate_state = self._gate_state, state
        if state is GateState.OPEN:
            return False
        if previous is GateState.OPEN:
            in_view = list(self._processor.tracker.first_seen())
            removed = self._aggregator.drop_tracks(in_view)
            self._processor.tracker.reset()
            logger.info("analysis %s: %d people in view left out of the open window", state.value, removed)
        result = self._processor.withhold(frame.image, frame.timestamp)
        del frame
        self._withheld += 1
        self._last_ts = result.timestamp
        call_safely(self._on_frame, result, logger, "vision frame callback")
        self._deliver(self._aggregator.advance(result.timestamp))
        return True

    def _frame_unreadable(self, exc: FrameFormatError) -> None:
        """Skip a frame that is no picture. A broken frame now and then is only counted; a run of them (a
        camera that sends a format we cannot read) is said once, in the log and on the service line."""
        self._rejected += 1
        self._rejected_run += 1
        if self._rejected_run == _REJECTED_RUN_DOWN:
            logger.error("camera frames skipped: %s", exc)
            self._emit_event(SourceEvent("down", "vision", f"{exc}; frames skipped"))
        elif self._rejected_run == 1:
            logger.warning("camera frame skipped: %s", exc)

    def _frame_readable(self) -> None:
        if self._rejected_run >= _REJECTED_RUN_DOWN:
            logger.info("camera frames readable again (%d skipped so far)", self._rejected)
            self._emit_event(SourceEvent("up", "vision", "frames readable again"))
        self._rejected_run = 0

    def _work(self) -> None:
        assert self._processor is not None and self._aggregator is not None
        self._last_face = time.monotonic()  # start at the full rate: someone may be standing there already
        last_processed = 0.0
        try:
            while not self._stop.is_set():
                self._beat = time.monotonic()
                self._pace(last_processed)
                frame: Frame | None = self._slot.take(timeout=0.2)
                if frame is None:
                    if self._slot.finished:
                        if self._last_ts is not None:
                            self._deliver(self._aggregator.flush(self._last_ts))
                        return
                    if self._live:  # no frames (camera down): still close windows on time
                        self._deliver(self._aggregator.advance(time.time()))
                    continue
                try:
                    if self._gate is not None and self._withhold(frame):
                        continue
                    last_processed = time.monotonic()
                    processed = self._processor.process(frame.image, frame.timestamp, every_qr=self.idle)
                except FrameFormatError as exc:
                    self._frame_unreadable(exc)
                    continue
                finally:
                    del frame  # the pixels end here
                self._frame_readable()
                if processed.dropped:
                    self._aggregator.drop_tracks(processed.dropped)
                if processed.result.faces:
                    self._last_face = time.monotonic()
                self._frames += 1
                self._ms_total += processed.result.timings["total"]
                self._ms_classify += processed.result.timings["classify"]
                self._last_ts = processed.result.timestamp
                call_safely(self._on_frame, processed.result, logger, "vision frame callback")
                self._deliver(self._aggregator.observe(processed.result.timestamp, processed.people))
        except VisionError as exc:
            logger.error("%s", exc)
            self._emit_event(SourceEvent("down", "vision", str(exc)))
        except Exception:
            logger.exception("vision worker crashed")
            self._emit_event(SourceEvent("down", "vision", "vision worker crashed; see the log"))
        finally:
            self._done.set()
