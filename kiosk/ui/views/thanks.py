"""Thank-you screen shown after a feedback press, before the kiosk returns to the attract screen."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from kiosk.i18n import Translator
from kiosk.ui.views import make_label
from kiosk.ui.widgets import FaceWidget


class ThanksView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("thanks")
        self.face = FaceWidget(1.0)
        self.title = make_label("title")
        self.body = make_label("headline")
        self._layout = QVBoxLayout(self)
        self._layout.addStretch(1)
        self._layout.addWidget(self.face, 0, Qt.AlignmentFlag.AlignHCenter)
        self._layout.addWidget(self.title)
        self._layout.addWidget(self.body)
        self._layout.addStretch(1)

    def set_unit(self, unit: float, portrait: bool) -> None:
        self.face.setFixedSize(round(unit * 26), round(unit * 26))
        self._layout.setSpacing(round(unit * 3))

    def render(self, t: Translator) -> None:
        self.title.setText(t("feedback.thanks"))
        self.body.setText(t("feedback.thanks.body"))
