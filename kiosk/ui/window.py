"""The kiosk's one window: a stack of screens above a permanent camera notice and a small service line."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLayout, QStackedWidget, QVBoxLayout, QWidget

from kiosk.ui import theme
from kiosk.ui.views import make_label
from kiosk.ui.views.attract import AttractView
from kiosk.ui.views.card_error import CardErrorView
from kiosk.ui.views.feedback import FeedbackView
from kiosk.ui.views.offers import OffersView
from kiosk.ui.views.thanks import ThanksView
from kiosk.ui.widgets import QrCode


class KioskWindow(QWidget):
    """Lays out the screens; sizes follow the window (fonts from the short side, layout from orientation)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("kioskRoot")
        self.setWindowTitle("moodkiosk")
        self.attract = AttractView()
        self.card_error = CardErrorView()
        self.offers = OffersView()
        self.feedback = FeedbackView()
        self.thanks = ThanksView()
        self.screens = QStackedWidget()
        for view in self._views():
            self.screens.addWidget(view)
        self.notice_frame = QFrame()
        self.notice_frame.setObjectName("notice")
        self.notice = make_label("notice")
        self.notice.setObjectName("privacyNotice")
        self.notice.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.privacy_qr = QrCode()  # the store's privacy page (privacy.privacy_url)
        notice_layout = QHBoxLayout(self.notice_frame)
        notice_layout.addWidget(self.notice, 1)
        notice_layout.addWidget(self.privacy_qr)
        self.service = make_label("service")
        self.service.setObjectName("serviceLine")
        self._layout = QVBoxLayout(self)
        # The screen's size is given (full screen); a long text must wrap, never grow the window off-screen.
        self._layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self._layout.addWidget(self.screens, 1)
        self._layout.addWidget(self.notice_frame)
        self._layout.addWidget(self.service)
        self._unit: float | None = None
        self._portrait: bool | None = None
        self._apply_size(1920, 1080)

    def _views(self) -> tuple[QWidget, ...]:
        return (self.attract, self.card_error, self.offers, self.feedback, self.thanks)

    @property
    def unit(self) -> float:
        return self._unit or theme.unit_for(self.width(), self.height())

    def show_screen(self, view: QWidget) -> None:
        self.screens.setCurrentWidget(view)

    def current_screen(self) -> QWidget:
        return self.screens.currentWidget()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt name)
        self._apply_size(event.size().width(), event.size().height())
        super().resizeEvent(event)

    def _apply_size(self, width: int, height: int) -> None:
        unit = round(theme.unit_for(width, height), 1)
        portrait = theme.is_portrait(width, height)
        if (unit, portrait) == (self._unit, self._portrait):
            return
        self._unit, self._portrait = unit, portrait
        margin = round(unit * (3 if portrait else 2.5))
        self._layout.setContentsMargins(margin, margin, margin, round(unit))
        self._layout.setSpacing(round(unit))
        pad = round(unit * 1.2)
        self.notice_frame.layout().setContentsMargins(pad * 2, pad, pad * 2, pad)
        self.notice_frame.layout().setSpacing(pad * 2)
        qr_side = round(unit * 10)  # 10 units = 54 mm on a 43-inch panel: scans from a phone at arm's length
        self.privacy_qr.setFixedSize(qr_side, qr_side)
        self.setStyleSheet(theme.stylesheet(unit))
        for view in self._views():
            view.set_unit(unit, portrait)
