"""The kiosk controller: forwards every input to the session and shows each new SessionView on the window."""
from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any, Mapping

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication

from kiosk.config import PrivacyConfig
from kiosk.i18n import Translator
from kiosk.services.cards import KeyboardWedge
from kiosk.services.telemetry import TelemetryState
from kiosk.session import KioskSession, SessionView, State, Tone, mood_from_faces
from kiosk.status import BrokerStatus, CameraStatus, LoyaltyStatus, ReaderStatus
from kiosk.ui.activity import ActivityFilter
from kiosk.ui.bridge import KioskBridge
from kiosk.ui.wedge import WedgeKeyFilter
from kiosk.ui.window import KioskWindow
from vision.types import SourceEvent

logger = logging.getLogger(__name__)

_TONE_SUBTITLES = {Tone.NEUTRAL: "offers.subtitle.neutral", Tone.UPBEAT: "offers.subtitle.upbeat",
                   Tone.GENTLE: "offers.subtitle.gentle"}
_SOURCE_STATES = {"down": CameraStatus.DOWN, "ended": CameraStatus.ENDED, "up": CameraStatus.OK}
_QUEUED = Qt.ConnectionType.QueuedConnection


class KioskController(QObject):
    """Lives in the UI thread. Inputs: screen buttons, wedge keys, and the bridge's queued signals."""

    def __init__(
        self,
        window: KioskWindow,
        session: KioskSession,
        bridge: KioskBridge,
        translators: Mapping[str, Translator],
        language: str,
        *,
        camera_on: bool,
        broker_on: bool,
        reader: ReaderStatus,
        wedge: KeyboardWedge | None,
        mood_offers: bool = False,
        privacy: PrivacyConfig | None = None,
        tick_ms: int = 200,
        redeem: str = "till",
        loyalty: LoyaltyStatus = LoyaltyStatus.OK,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.session = session
        self.bridge = bridge
        self._translators = dict(translators)
        self._language = language
        self._camera_on = camera_on
        self._mood_offers = mood_offers  # the notice must say when the mood may order the shopper's offers
        self._privacy = privacy  # controller, contact, privacy page
        if privacy is not None:
            window.privacy_qr.set_text(privacy.privacy_url)
        self._redeem = redeem  # how a card holder redeems offers: "card" or "till"
        self._camera = CameraStatus.STARTING if camera_on else CameraStatus.OFF
        self._broker = BrokerStatus.CONNECTING if broker_on else BrokerStatus.OFF
        self._reader = reader
        self._loyalty = loyalty  # fixed at start (open_shop); shown on the service line only when not OK
        self._spool_depth = 0
        self._no_mood_model = False
        self._camera_ok = True  # False while the camera is down or its input ended: the mood is unknown
        self._shown: tuple[Any, ...] | None = None
        self._wedge_filter: WedgeKeyFilter | None = None
        if wedge is not None:
            self._wedge_filter = WedgeKeyFilter(window, wedge, lambda text: session.card_scanned(text, "wedge"))
            QApplication.instance().installEventFilter(self._wedge_filter)
        self._activity = ActivityFilter(window, session.activity)
        QApplication.instance().installEventFilter(self._activity)
        self._connect_screens()
        self._connect_bridge()
        session.add_listener(self.render)
        self._tick = QTimer(self)
        self._tick.setInterval(tick_ms)
        self._tick.timeout.connect(lambda: session.tick())
        self._tick.start()
        self.render(session.view)
        self._render_service()

    def translator(self, language: str | None = None) -> Translator:
        return self._translators.get(language or self._language) or self._translators[self._language]

    def close(self) -> None:
        """Stop the timer and the key filter (the window stays for whoever owns it)."""
        self._tick.stop()
        QApplication.instance().removeEventFilter(self._activity)
        if self._wedge_filter is not None:
            QApplication.instance().removeEventFilter(self._wedge_filter)

    # ----- wiring ---------------------------------------------------------------------------------
    def _connect_screens(self) -> None:
        w, s = self.window, self.session
        w.attract.guest.clicked.connect(s.continue_as_guest)
        w.card_error.guest.clicked.connect(s.continue_as_guest)
        w.card_error.back.clicked.connect(s.done)
        w.offers.done.clicked.connect(s.done)
        w.attract.no_mood.clicked.connect(s.pause_mood_reading)
        w.offers.no_mood.clicked.connect(s.pause_mood_reading)
        w.offers.mood_opt_in.clicked.connect(s.opt_in_mood)
        w.feedback.skip.clicked.connect(s.done)
        for button in w.feedback.buttons.values():
            button.pressed_face.connect(s.feedback)

    def _connect_bridge(self) -> None:
        b = self.bridge
        b.frame_ready.connect(self._on_frame, _QUEUED)
        b.qr_seen.connect(lambda text: self.session.card_scanned(text, "qr"), _QUEUED)
        b.card_read.connect(self.session.card_scanned, _QUEUED)
        b.button_pressed.connect(self.session.feedback, _QUEUED)
        b.source_event.connect(self._on_source_event, _QUEUED)
        b.telemetry_state.connect(self._on_telemetry_state, _QUEUED)
        b.reader_state.connect(self._on_reader_state, _QUEUED)

    # ----- inputs from workers --------------------------------------------------------------------
    def _on_frame(self) -> None:
        frame = self.bridge.take_frame()
        if frame is None:
            return
        labels, shopper = mood_from_faces(frame.faces)
        self.session.mood_update(labels, shopper)

    def _on_source_event(self, event: SourceEvent) -> None:
        state = _SOURCE_STATES[event.kind]
        if state is not CameraStatus.OK and state is not self._camera:  # once per outage, not at every retry
            logger.warning("Camera source %s: %s", event.source, event.message)
        self.set_camera_state(state)

    def set_camera_state(self, state: CameraStatus) -> None:
        """The camera's status on the service line; NO_MODEL (camera without mood) holds until the app restarts."""
        if state is CameraStatus.NO_MODEL and not self._no_mood_model:
            self._no_mood_model = True
            self._shown = None
            self.render(self.session.view)
        elif state is CameraStatus.OK and self._no_mood_model:
            state = CameraStatus.NO_MODEL
        camera_ok = state.frames_flow
        changed = camera_ok != self._camera_ok
        self._camera_ok = camera_ok
        if not camera_ok:
            self.session.mood_update([], None)  # without a picture the room's mood is unknown, not "as before"
        if changed:
            self.render(self.session.view)
        self._camera = state
        self._render_service()

    def _on_telemetry_state(self, state: TelemetryState) -> None:
        self._broker = state.connection
        self._spool_depth = state.spool_depth
        self._render_service()

    def _on_reader_state(self, state: ReaderStatus) -> None:
        self._reader = state
        self._render_service()

    # ----- output ---------------------------------------------------------------------------------
    def render(self, view: SessionView) -> None:
        """Show a session snapshot; a change of the room's mood alone only repaints the gauge."""
        t = self.translator(view.language)
        key = (view.state, view.language, view.message_key, view.greeting_name, view.offers, view.tone,
               view.mood_paused, view.mood_opt_in)
        w = self.window
        if view.state is State.ATTRACT:
            w.attract.render(t, self._camera_on, view.room.people, view.room.mood_index, not self._no_mood_model,
                             view.mood_paused, camera_ok=self._camera_ok)
        if key == self._shown:
            return
        self._shown = key
        if view.state is State.ATTRACT:
            w.show_screen(w.attract)
        elif view.state is State.OFFERS:
            w.offers.render(t, view.greeting_name, view.offers, _TONE_SUBTITLES[view.tone], self._redeem)
            self._render_offer_choices(t, view)
            w.show_screen(w.offers)
        elif view.state is State.GUEST:  # a guest has no card to load: redeem at the till
            w.offers.render(t, None, view.offers, _TONE_SUBTITLES[view.tone] if view.mood_opt_in else "guest.subtitle",
                            "till")
            self._render_offer_choices(t, view)
            w.show_screen(w.offers)
        elif view.state is State.CARD_ERROR:
            w.card_error.render(t, view.message_key)
            w.show_screen(w.card_error)
        elif view.state is State.FEEDBACK:
            w.feedback.render(t)
            w.show_screen(w.feedback)
        elif view.state is State.THANKS:
            w.thanks.render(t)
            w.show_screen(w.thanks)
        w.notice.setText(self._notice(t, view.mood_paused))

    def _render_offer_choices(self, t: Translator, view: SessionView) -> None:
        self.window.offers.render_privacy(
            t, self._camera_on, view.mood_paused, self._mood_offers and not self._no_mood_model, view.mood_opt_in
        )

    def _notice(self, t: Translator, paused: bool = False) -> str:
        """The camera notice: what the camera does, that it keeps no images, what the moods are used for, who is
        responsible and whom to ask (the QR code beside it opens the store's privacy page)."""
        if not self._camera_on:
            return t("privacy.camera_off")
        if paused:
            text = t("privacy.paused")
        else:
            text = t("privacy.camera_on_offers") if self._mood_offers else t("privacy.camera_on")
        if self._privacy is not None:
            text += "\n" + t("privacy.controller", controller=self._privacy.controller, contact=self._privacy.contact)
        return text

    def _render_service(self) -> None:
        t = self.translator()

        def word(part: str, state: StrEnum) -> str:
            return t(f"service.{part}.{state.value}")  # every member has its text (tests/qt/test_ui_i18n.py)

        broker = word("broker", self._broker)
        if self._spool_depth:
            broker = f"{broker} ({t('service.spool', count=self._spool_depth)})"
        parts = [
            t("service.camera", state=word("camera", self._camera)),
            t("service.broker", state=broker),
            t("service.reader", state=word("reader", self._reader)),
        ]
        if self._loyalty is not LoyaltyStatus.OK:
            parts.append(t("service.loyalty", state=word("loyalty", self._loyalty)))
        self.window.service.setText("  ·  ".join(parts))
