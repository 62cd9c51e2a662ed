"""Feedback screen: three big faces (happy / neutral / unhappy), the same choice as the peripheral's buttons."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from kiosk.i18n import Translator
from kiosk.ui.views import make_button, make_label
from kiosk.ui.widgets import FaceButton

FACES = ("happy", "neutral", "unhappy")


class FeedbackView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("feedback")
        self.question = make_label("title")
        self.buttons = {face: FaceButton(face) for face in FACES}
        self.skip = make_button("skipButton")
        row = QHBoxLayout()
        for face in FACES:
            row.addWidget(self.buttons[face])
        self._row = row
        self._layout = QVBoxLayout(self)
        self._layout.addStretch(2)
        self._layout.addWidget(self.question)
        self._layout.addStretch(1)
        self._layout.addLayout(row, 4)
        self._layout.addStretch(1)
        self._layout.addWidget(self.skip, 0, Qt.AlignmentFlag.AlignHCenter)
        self._layout.addStretch(2)

    def set_unit(self, unit: float, portrait: bool) -> None:
        self._row.setSpacing(round(unit * 4))
        for button in self.buttons.values():
            button.setMaximumSize(round(unit * 30), round(unit * 38))
            button.setMinimumSize(round(unit * 22), round(unit * 28))
        self._layout.setSpacing(round(unit * 2))

    def render(self, t: Translator) -> None:
        self.question.setText(t("feedback.ask"))
        for face, button in self.buttons.items():
            button.setText(t(f"feedback.{face}"))
        self.skip.setText(t("feedback.skip"))
