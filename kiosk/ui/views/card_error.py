"""Card error screen: a friendly word about an unknown or unreadable card and the way on as a guest."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from kiosk.i18n import Translator
from kiosk.ui.views import make_button, make_label
from kiosk.ui.widgets import FaceWidget


class CardErrorView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cardError")
        self.face = FaceWidget(0.0)
        self.title = make_label("title")
        self.body = make_label("body")
        self.guest = make_button("guestButton", primary=True)
        self.back = make_button("backButton")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.back)
        buttons.addWidget(self.guest)
        buttons.addStretch(1)
        self._buttons = buttons
        self._layout = QVBoxLayout(self)
        self._layout.addStretch(2)
        self._layout.addWidget(self.face, 0, Qt.AlignmentFlag.AlignHCenter)
        self._layout.addWidget(self.title)
        self._layout.addWidget(self.body)
        self._layout.addStretch(1)
        self._layout.addLayout(buttons)
        self._layout.addStretch(2)

    def set_unit(self, unit: float, portrait: bool) -> None:
        self.face.setFixedSize(round(unit * 18), round(unit * 18))
        self._layout.setSpacing(round(unit * 2.5))
        self._buttons.setSpacing(round(unit * 3))

    def render(self, t: Translator, message_key: str) -> None:
        self.title.setText(t(message_key))
        self.body.setText(t(f"{message_key}.body"))
        self.guest.setText(t("card_error.guest"))
        self.back.setText(t("card_error.back"))
