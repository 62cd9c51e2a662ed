"""Attract screen: welcome, the room's live mood (never an image), and the invitation to scan a card."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QVBoxLayout, QWidget

from kiosk.i18n import Translator
from kiosk.ui.views import make_button, make_label
from kiosk.ui.widgets import MoodGauge

# Mood index thresholds (lower bound) -> level text key, from the happiest down.
MOOD_LEVELS = ((0.5, "mood.level.happy"), (0.15, "mood.level.good"), (-0.15, "mood.level.neutral"),
               (-0.5, "mood.level.low"), (-1.01, "mood.level.unhappy"))


def level_key(index: float) -> str:
    return next(key for bound, key in MOOD_LEVELS if index >= bound)


class AttractView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attract")
        self.title = make_label("title")
        self.invite = make_label("headline")
        self.how = make_label("body")
        self.mood_panel = QFrame()
        self.mood_panel.setObjectName("offerCard")
        self.mood_title = make_label("caption")
        self.gauge = MoodGauge()
        self.mood_level = make_label("headline")
        self.people = make_label("body")
        self.guest = make_button("guestButton")
        self.no_mood = make_button("noMoodButton")  # "without mood reading": the shopper's choice, this visit
        self.no_mood.setProperty("role", "choice")
        panel = QVBoxLayout(self.mood_panel)
        for widget in (self.mood_title, self.gauge, self.mood_level, self.people):
            panel.addWidget(widget)
        self._layout = QVBoxLayout(self)
        self._layout.addStretch(2)
        for widget in (self.title, self.invite, self.how):
            self._layout.addWidget(widget)
        self._layout.addStretch(1)
        self._layout.addWidget(self.mood_panel)
        self._layout.addStretch(1)
        self._layout.addWidget(self.guest, 0, Qt.AlignmentFlag.AlignHCenter)
        self._layout.addWidget(self.no_mood, 0, Qt.AlignmentFlag.AlignHCenter)
        self._layout.addStretch(2)

    def set_unit(self, unit: float, portrait: bool) -> None:
        self.gauge.set_unit(unit)
        self._layout.setSpacing(round(unit * 2))
        pad = round(unit * 2)
        self.mood_panel.layout().setContentsMargins(pad, pad, pad, pad)
        self.mood_panel.setFixedWidth(round(unit * (80 if portrait else 100)))
        self._layout.setAlignment(self.mood_panel, Qt.AlignmentFlag.AlignHCenter)

    def render(
        self, t: Translator, camera_on: bool, people: int, mood_index: float | None, mood_model: bool = True,
        mood_paused: bool = False,
        camera_ok: bool = True,
    ) -> None:
        self.title.setText(t("attract.title"))
        self.no_mood.setVisible(camera_on)
        self.no_mood.setEnabled(not mood_paused)
        self.no_mood.setText(t("mood.paused") if mood_paused else t("attract.no_mood"))
        self.invite.setText(t("attract.invite"))
        self.how.setText(t("attract.how" if camera_on else "attract.how_no_camera"))
        self.guest.setText(t("attract.guest"))
        self.mood_title.setText(t("mood.title"))
        self.gauge.setVisible(camera_on)
        self.people.setVisible(camera_on and camera_ok)  # a camera that is down sees nobody: say nothing
        if not camera_on:
            self.gauge.set_index(None)
            self.mood_level.setText(t("mood.off"))
            return
        if mood_paused:  # nothing is analysed: no gauge, no head count
            self.gauge.setVisible(False)
            self.people.setVisible(False)
            self.gauge.set_index(None)
            self.mood_level.setText(t("mood.paused"))
            return
        if not camera_ok:
            self.gauge.set_index(None)
            self.mood_level.setText(t("mood.unavailable"))
            return
        self.gauge.set_index(mood_index if people else None)
        self.people.setText(t.people(people))
        if not mood_model:
            self.mood_level.setText(t("mood.unavailable"))
        elif people and mood_index is not None:
            self.mood_level.setText(t(level_key(mood_index)))
        else:
            self.mood_level.setText(t("mood.waiting") if people else "–")
