"""Builds the running kiosk from a KioskConfig: loyalty, offers, session, vision, telemetry, card readers, Qt screens.

Threads: the camera pipeline, telemetry and the serial readers run on their own threads and reach the UI
only through `KioskBridge` (queued signals); the UI thread never waits on camera, disk or network. One
`stop()` stops the components in reverse start order.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from deploy.notify import Notifier
from kiosk.config import KioskConfig
from kiosk.display import prepare_before_qt, prepare_session
from kiosk.errors import KioskError
from kiosk.i18n import LANGUAGES, load_translator
from kiosk.services.cards import CardHasher, KeyboardWedge
from kiosk.services.loyalty import LoyaltyStore
from kiosk.services.shop import make_engine, open_shop
from kiosk.services.feedback import FeedbackCounter, FeedbackOnlyWindows
from kiosk.session import KioskSession, SessionView, State
from kiosk.status import CameraStatus, LoyaltyStatus, ReaderStatus
from kiosk.ui.bridge import KioskBridge
from kiosk.ui.controllers.kiosk import KioskController
from kiosk.ui.fullscreen import cover_screen
from kiosk.ui.heartbeat import StallMeter, StallReport
from kiosk.ui.watchdog import UiWatchdog
from kiosk.ui.window import KioskWindow

if TYPE_CHECKING:
    from kiosk.services.telemetry import TelemetryPublisher
    from vision.settings import VisionSettings
    from vision.types import FrameResult, MoodWindow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    stalls: StallReport | None


class KioskApp:
    """The kiosk, built but not started: `start()`, then Qt's event loop (`run()`), then `stop()`."""

    def __init__(
        self,
        config: KioskConfig,
        *,
        fullscreen: bool | None = None,
        size: tuple[int, int] | None = None,
        loyalty: LoyaltyStore | None = None,
        vision: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._fullscreen = config.ui.fullscreen if fullscreen is None else fullscreen
        if QApplication.instance() is None:
            ensure_screen()
            prepare_before_qt(config.ui.rotation, self._fullscreen)
        self.qt = QApplication.instance() or QApplication([])
        self._stoppers: list[tuple[str, Callable[[], None]]] = []
        self.feedback = FeedbackCounter(config.mood.k_anonymity)
        self.model_version: str | None = None

        hasher = CardHasher(config.card_hash_key())  # the one read (or first creation) of the key file
        self.loyalty_status = LoyaltyStatus.OK  # READ_ONLY / UNAVAILABLE: a damaged store, on screen and in health
        if loyalty is None:
            shop = open_shop(config, hasher)  # before the event loop starts: learning the offer model takes a moment
            self.loyalty, self.offers, self.loyalty_status = shop.store, shop.engine, shop.status
            self._stoppers.append(("loyalty store", shop.close))
        else:
            self.loyalty, self.offers = loyalty, make_engine(loyalty, config)
        self.offer_stats: Any = None  # kiosk.services.offer_stats.OfferStats once telemetry runs
        self.session = KioskSession(config, self.loyalty, self.offers, clock, on_feedback=self._on_feedback,
                                   hasher=hasher)

        self.bridge = KioskBridge()
        self.window = KioskWindow()
        translators = {language: load_translator(language) for language in LANGUAGES}
        wedge = None
        if config.cards.keyboard_wedge:
            # short reads still reach the validator, so a bad read gets a friendly message instead of nothing
            wedge = KeyboardWedge(config.cards.wedge_max_key_gap_ms / 1000.0, min_length=4, max_length=64)
        self.controller = KioskController(
            self.window, self.session, self.bridge, translators, config.language,
            camera_on=config.camera.enabled,
            broker_on=config.mqtt.enabled,
            reader=self._reader_kind(),
            wedge=wedge,
            mood_offers=config.offers.mood_reorder,
            privacy=config.privacy,
            redeem=config.offers.redeem,
            loyalty=self.loyalty_status,
        )
        self._vision_settings = vision  # a vision.settings.VisionSettings overriding the config's mapping
        self._size = size
        self.telemetry: TelemetryPublisher | None = None
        self.vision: Any = None
        self.gate: Any = None  # vision.analysis_gate.AnalysisGate while the camera runs
        self.reader: Any = None
        self._health_timer: QTimer | None = None
        self._led = ""

    def _reader_kind(self) -> ReaderStatus:
        if self.config.peripheral.enabled or self.config.cards.serial_port:
            return ReaderStatus.CONNECTING
        return ReaderStatus.KEYBOARD if self.config.cards.keyboard_wedge else ReaderStatus.OFF

    # ----- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start telemetry, then vision, then the card readers; show the window."""
        try:
            if self.config.mqtt.enabled:
                self._start_telemetry()
            if self.config.camera.enabled:
                self._start_vision()
            if self.vision is None and self.telemetry is not None:
                self._start_feedback_only_windows()
            self._start_reader()
            self._start_retention()
        except BaseException:
            self.stop()
            raise
        self._stoppers.append(("controller", self.controller.close))
        self._show()
        self._start_service_notifications()

    def stop(self) -> None:
        """Stop everything started, newest first; safe to call twice."""
        while self._stoppers:
            name, stop = self._stoppers.pop()
            logger.debug("Stopping %s", name)
            try:
                stop()
            except Exception:  # one failing stop must not leave the rest running
                logger.exception("Stopping %s failed", name)

    def run(self, duration_s: float | None = None, measure_stalls: bool = True) -> RunResult:
        """Start, run Qt's event loop until quit / SIGINT / SIGTERM / `duration_s`, stop; report UI stalls."""
        meter = StallMeter() if measure_stalls else None
        previous = {sig: signal.signal(sig, lambda *_: self.qt.quit()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            if duration_s is not None:
                QTimer.singleShot(round(duration_s * 1000), self.qt.quit)
            if meter is not None:
                meter.start()
            code = self.qt.exec()
        finally:
            if meter is not None:
                meter.stop()
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return RunResult(int(code), meter.report() if meter is not None else None)

    def _show(self) -> None:
        if self._fullscreen:
            setup = prepare_session(self.config.ui.rotation)
            for note in setup.notes:
                logger.warning("Screen: %s", note)
            self.qt.setOverrideCursor(Qt.CursorShape.BlankCursor)  # a touch kiosk shows no mouse pointer
            self._stoppers.append(("cursor", self.qt.restoreOverrideCursor))
            screen = cover_screen(self.window)
            logger.info("Full screen on %s (%dx%d, %s session, blanking %s)", screen.name(), screen.geometry().width(),
                        screen.geometry().height(), setup.session.value, "off" if setup.blanking_off else "unchanged")
            return
        width, height = self._size or ((1080, 1920) if self.config.ui.orientation == "portrait" else (1920, 1080))
        self.window.resize(width, height)
        self.window.show()

    def _start_service_notifications(self) -> None:
        """Under systemd: READY once the window is up, a watchdog fed by the UI thread, STOPPING at the end."""
        notifier = Notifier()
        if not notifier.enabled:
            return
        watchdog = UiWatchdog(notifier, self._threads_alive, self.window)
        if watchdog.start():
            self._stoppers.append(("watchdog", watchdog.stop))
        notifier.ready(f"kiosk {self.config.store_id}/{self.config.kiosk_id} on screen")
        self._stoppers.append(("service notifications", lambda: (notifier.stopping(), notifier.close())))

    def _threads_alive(self) -> bool:
        """The worker threads the kiosk cannot do without are running (the UI thread is the one asking)."""
        telemetry_ok = self.telemetry is None or self.telemetry.worker_alive
        vision_ok = self.vision is None or self.vision.alive(VISION_HANG_S)
        return telemetry_ok and vision_ok

    # ----- components -----------------------------------------------------------------------------
    def _start_telemetry(self) -> None:
        from kiosk.services.spool import Spool, SpoolError
        from kiosk.services.telemetry import TelemetryPublisher

        try:
            spool = Spool(self.config.spool_path, self.config.mqtt.spool_max_windows)
        except SpoolError as exc:  # name the config key, so IT knows what to fix
            raise SpoolError(f"[mqtt] spool_path: {exc}") from exc
        self._stoppers.append(("spool", spool.close))
        self.telemetry = TelemetryPublisher(
            self.config.mqtt, self.config.store_id, self.config.kiosk_id, spool, on_state=self.bridge.on_telemetry_state
        )
        # fixed at start, so in the very first health message: "ok", "read_only" or "unavailable"
        self.telemetry.report_health({"loyalty_store": self.loyalty_status.value})
        self.telemetry.start()
        self._stoppers.append(("telemetry", self.telemetry.stop))
        timer = QTimer(self.window)
        timer.setInterval(round(min(self.config.mqtt.health_interval_s, 30) * 1000))
        timer.timeout.connect(self._report_health)
        timer.start()
        self._health_timer = timer
        self._stoppers.append(("health timer", timer.stop))
        self._start_offer_stats()

    def _on_feedback(self, face: str) -> None:
        self.feedback.add(face)
        if self.offer_stats is not None:
            self.offer_stats.on_feedback(face)

    def _start_offer_stats(self) -> None:
        """Count offers per day and send the k-anonymous days to central now and every 15 minutes."""
        from kiosk.services.damaged_files import open_or_set_aside
        from kiosk.services.offer_stats import OfferStats, OfferStatsError

        path = self.config.offer_stats_path
        try:  # a damaged file is set aside and counting starts afresh
            self.offer_stats, _ = open_or_set_aside(path, lambda: OfferStats(
                path, self.config.store_id, self.config.kiosk_id, self.config.mood.k_anonymity))
        except (OfferStatsError, OSError) as exc:  # counts are a nice-to-have; they must never stop the kiosk
            logger.error("Offer counts off: %s", exc)
            self.offer_stats = None
            return
        self.session.add_listener(self.offer_stats.on_view)
        self._stoppers.append(("offer counts", self.offer_stats.close))
        timer = QTimer(self.window)
        timer.setInterval(15 * 60 * 1000)
        timer.timeout.connect(self._send_offer_stats)
        timer.start()
        self._stoppers.append(("offer counts timer", timer.stop))
        self._send_offer_stats()

    def _send_offer_stats(self) -> None:
        try:
            self.telemetry.publish_offers(self.offer_stats.reports())
        except Exception:  # counts are a nice-to-have; they must never stop the kiosk
            logger.exception("offer counts not sent")

    def _report_health(self) -> None:
        """Device figures only (nothing about people); telemetry sends the latest on its own schedule."""
        figures: dict[str, Any] = dict(self.vision.health()) if self.vision is not None else {}
        figures["model_version"] = self.model_version
        figures["ui_frames_skipped"] = self.bridge.frames_skipped
        self.telemetry.report_health(figures)

    def _start_vision(self) -> None:
        """Start the camera pipeline. Without a usable expression model it runs detection only (people count
        and QR cards still work); if it cannot start at all the kiosk goes on without the camera. Either way
        the service line and the log say why; cards and buttons keep working."""
        try:
            from vision.analysis_gate import AnalysisGate
            from vision.errors import VisionError
            from vision.expression import ExpressionModelError
            from vision.opening_hours import OpeningHours
            from vision.pipeline import VisionPipeline
        except ImportError as exc:
            logger.error("Camera disabled: the vision package cannot be loaded: %s", exc)
            self.controller.set_camera_state(CameraStatus.DOWN)
            return
        settings = self._vision_settings or vision_settings(self.config)
        privacy = self.config.privacy
        self.gate = AnalysisGate(OpeningHours.parse(privacy.opening_hours, privacy.timezone, "privacy.opening_hours"))
        self.session.add_listener(self._apply_mood_pause)
        state = CameraStatus.OK
        try:
            try:
                self.vision = self._make_pipeline(VisionPipeline, settings)
            except ExpressionModelError as exc:
                logger.error("Mood model unusable, camera runs without mood (people count and QR only): %s", exc)
                self.vision = self._make_pipeline(VisionPipeline, settings.with_(expression_model=None))
                state = CameraStatus.NO_MODEL
        except VisionError as exc:
            logger.error("Camera disabled: %s", exc)
            self.vision = None
            self.controller.set_camera_state(CameraStatus.DOWN)
            return
        self.model_version = self.vision.model_version
        self._stoppers.append(("vision", self.vision.stop))
        self.controller.set_camera_state(state)

    def _make_pipeline(self, pipeline_type: Any, settings: Any) -> Any:
        """Start the pipeline from a helper thread running at a lower CPU priority: the capture, worker and
        inference threads it creates inherit that priority (Linux), so on a busy CPU the UI thread wins."""
        pipeline = pipeline_type(settings, self.on_frame, self.on_window, self.bridge.on_source_event, gate=self.gate)
        failure: list[BaseException] = []

        def start_lower() -> None:
            lower_thread_priority(VISION_NICE)
            try:
                pipeline.start()
            except BaseException as exc:  # handed back to the UI thread below
                failure.append(exc)

        starter = threading.Thread(target=start_lower, name="vision-start")
        starter.start()
        starter.join()
        if failure:
            raise failure[0]
        return pipeline

    def _apply_mood_pause(self, view: SessionView) -> None:
        """The shopper's "without mood reading" closes the vision gate at once (UI thread; the worker reads it
        before each frame)."""
        if view.mood_paused and not self.gate.paused:
            self.gate.pause()
        elif not view.mood_paused and self.gate.paused:
            self.gate.resume()

    def on_frame(self, result: FrameResult) -> None:
        """Vision thread: hand the frame result (faces, QR text; never pixels) to the UI's one-slot mailbox."""
        self.bridge.on_frame(result)

    def on_window(self, window: MoodWindow) -> None:
        """Vision thread: a closed, k-anonymous window goes out with the feedback presses since the last one."""
        counts = self.feedback.take()
        if self.telemetry is not None:
            self.telemetry.submit_window(window, counts, self.model_version or "unknown")

    def _start_feedback_only_windows(self) -> None:
        """No camera, so no mood windows: close feedback-only windows on the window clock (UI thread; submitting
        only queues the window for the telemetry thread)."""
        windows = FeedbackOnlyWindows(self.feedback, datetime.now(timezone.utc))

        def close() -> None:
            closed = windows.close(datetime.now(timezone.utc))
            if closed is not None:
                self.telemetry.submit_window(*closed, model_version="none")

        timer = QTimer(self.window)
        timer.setInterval(round(self.config.mood.window_seconds * 1000))
        timer.timeout.connect(close)
        timer.start()
        self._stoppers.append(("feedback-only windows", lambda: (timer.stop(), close())))
        logger.info("No camera: feedback presses go out in feedback-only windows every %d s", self.config.mood.window_seconds)

    def _start_reader(self) -> None:
        peripheral, cards = self.config.peripheral, self.config.cards
        if peripheral.enabled:
            from kiosk.services.peripheral import PeripheralLink

            self.reader = PeripheralLink(
                peripheral.port,
                on_card=lambda uid: self.bridge.on_card(card_number_from_uid(uid), "peripheral"),
                on_button=self.bridge.on_button,
                on_state=self.bridge.on_reader_state,
                baudrate=peripheral.baudrate,
            )
        elif cards.serial_port:
            from kiosk.services.serial_cards import SerialCardReader

            self.reader = SerialCardReader(
                cards.serial_port,
                on_card=lambda card: self.bridge.on_card(card, "serial"),
                on_state=self.bridge.on_reader_state,
                baudrate=cards.serial_baudrate,
            )
        else:
            return
        self.reader.start()
        self._stoppers.append(("card reader", self.reader.stop))
        if peripheral.enabled:
            self.session.add_listener(self._show_state_on_led)

    def _start_retention(self) -> None:
        """Purchases past `loyalty.purchase_retention_days` are deleted at start (open_shop) and, for a kiosk
        that runs for weeks, every few hours on a worker thread (the delete overwrites pages: not on the UI)."""
        if not self.config.loyalty.purchase_retention_days or self.loyalty_status is not LoyaltyStatus.OK:
            return  # a store opened read-only, or not at all, cannot be pruned
        timer = QTimer(self.window)
        timer.setInterval(RETENTION_INTERVAL_MS)
        timer.timeout.connect(self.prune_now)
        timer.start()
        self._stoppers.append(("retention timer", timer.stop))

    def prune_now(self) -> threading.Thread:
        """Delete purchases past retention on a worker thread (returned, so a test can join it)."""
        from kiosk.services.member_data import prune_purchases

        def prune() -> None:
            if not isinstance(self.loyalty, LoyaltyStore):  # the store could not be opened at start
                return
            try:
                prune_purchases(self.loyalty, self.config.loyalty.purchase_retention_days)
            except KioskError as exc:  # a busy or closed store: the next round or the next start prunes
                logger.error("Pruning old purchases failed: %s", exc)

        worker = threading.Thread(target=prune, name="loyalty-prune", daemon=True)
        worker.start()
        return worker

    def _show_state_on_led(self, view: SessionView) -> None:
        """The peripheral's status light follows the screen (UI thread; set_led only records the wish)."""
        led = _LED_FOR_STATE.get(view.state, "idle")
        if view.mood_paused and led != "error":
            led = "private"  # violet for the whole pause: the light says reading is off
        if led != self._led:
            self._led = led
            self.reader.set_led(led)


_LED_FOR_STATE = {State.OFFERS: "card", State.GUEST: "card", State.FEEDBACK: "feedback", State.THANKS: "feedback",
                  State.CARD_ERROR: "error"}


RETENTION_INTERVAL_MS = 6 * 3600 * 1000  # how often a running kiosk deletes purchases past retention
VISION_HANG_S = 30.0  # a camera worker whose loop has not turned for this long counts as hung (watchdog)
VISION_NICE = 10  # camera and inference yield the CPU to the UI thread (0 = same priority)


def lower_thread_priority(nice: int) -> None:
    """Raise the calling thread's nice value (Linux: per thread, inherited by threads it starts)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), nice))
    except OSError as exc:
        logger.warning("Could not lower the camera threads' priority: %s", exc)


def ensure_screen() -> None:
    """Fail with one clear line instead of Qt aborting the process when there is no screen to draw on."""
    if sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM"):
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise KioskError(
                "no screen: neither DISPLAY nor WAYLAND_DISPLAY is set; start it in a desktop session, or set "
                "QT_QPA_PLATFORM (eglfs or linuxfb on a kiosk without a desktop, offscreen for a headless test)"
            )
        display = os.environ.get("DISPLAY", "")
        if display and not os.environ.get("WAYLAND_DISPLAY") and not local_x_display_answers(display):
            raise KioskError(f"no screen: X display {display} does not answer (is the X server running, and may this "
                             "user use it?)")


def local_x_display_answers(display: str) -> bool:
    """Whether a local X display (":0", "unix:0.0") accepts a connection on its socket; remote ones are left to
    Qt. Without this, Qt aborts the process with a core dump when the X server is not there."""
    host, _, rest = display.partition(":")
    number = rest.split(".", 1)[0]
    if host not in ("", "unix") or not (number.isascii() and number.isdigit()):
        return True
    for address in (f"\0/tmp/.X11-unix/X{number}", f"/tmp/.X11-unix/X{number}"):  # Linux abstract, then file
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(2.0)
        try:
            sock.connect(address)
            return True
        except OSError:
            continue
        finally:
            sock.close()
    return False


def card_number_from_uid(uid_hex: str) -> str:
    """An RFID card's UID (hex, from the peripheral board) as the decimal number a loyalty system files it
    under, zero-padded like common RFID wedge readers print it (4-byte UID -> 10 digits). Such numbers
    carry no check digit: add "digits" to [cards] formats when the store uses RFID cards."""
    value = int(uid_hex, 16)
    width = len(str(16 ** len(uid_hex) - 1))
    return str(value).zfill(width)


def vision_settings(config: KioskConfig) -> VisionSettings:
    """The vision pipeline's settings: the kiosk's [camera] and [mood] sections as they are, and its model file."""
    from vision.settings import DEFAULT_EXPRESSION_MODEL, VisionSettings

    return VisionSettings(
        camera=config.camera, mood=config.mood, expression_model=config.camera.model_file or DEFAULT_EXPRESSION_MODEL
    )
