"""Painted building blocks of the screens (faces, mood gauge, offer icon): no images, no fonts beyond DejaVu."""
from __future__ import annotations

import zlib

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QLinearGradient, QPainter, QPainterPath, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QAbstractButton, QSizePolicy, QWidget

from kiosk.ui import theme
from kiosk.ui.signals import emit
from kiosk.ui.pictograms import paint_pictogram, pictogram_for

FACE_VALENCE = {"happy": 1.0, "neutral": 0.0, "unhappy": -1.0}

# Offer icon names (see kiosk.services.records.Offer.icon) -> a symbol DejaVu Sans draws; others get an initial.
ICON_SYMBOLS = {
    "coffee": "\u2615", "tea": "\u2615", "drinks": "\u2615", "music": "\u266b", "summer": "\u2600",
    "frozen": "\u2744", "flowers": "\u273f", "garden": "\u273f", "hair": "\u2702", "phone": "\u260e",
    "electronics": "\u26a1", "star": "\u2605", "gift": "\u2726", "travel": "\u2708", "home": "\u2302",
    "tools": "\u2699", "computer": "\u2328", "care": "\u2764", "health": "\u2764",
}
_ICON_PALETTE = ("#0B6E4F", "#2D6CDF", "#B35C1E", "#8E3B9E", "#C0392B", "#1F7A8C", "#6B8E23", "#D4A017")


def face_color(valence: float) -> QColor:
    """Red (-1) through amber (0) to green (+1)."""
    low, mid, high = theme.FACE_COLORS["unhappy"], theme.FACE_COLORS["neutral"], theme.FACE_COLORS["happy"]
    a, b, t = (low, mid, valence + 1.0) if valence < 0 else (mid, high, valence)
    t = max(0.0, min(1.0, t))
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def paint_face(painter: QPainter, rect: QRectF, valence: float, color: QColor | None = None) -> None:
    """A round face in `rect` whose mouth curves up (+1), stays flat (0) or curves down (-1)."""
    side = min(rect.width(), rect.height())
    box = QRectF(rect.center().x() - side / 2, rect.center().y() - side / 2, side, side)
    fill = color or face_color(valence)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(fill.darker(135), max(1.0, side * 0.035)))
    painter.setBrush(fill)
    painter.drawEllipse(box.adjusted(side * 0.03, side * 0.03, -side * 0.03, -side * 0.03))
    ink = QColor("#1F2933")
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(ink)
    eye_r = side * 0.065
    for dx in (-0.17, 0.17):
        painter.drawEllipse(QPointF(box.center().x() + dx * side, box.top() + side * 0.38), eye_r, eye_r)
    pen = QPen(ink, side * 0.06, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    left = QPointF(box.left() + side * 0.3, box.top() + side * 0.66)
    right = QPointF(box.right() - side * 0.3, box.top() + side * 0.66)
    bend = QPointF(box.center().x(), box.top() + side * (0.66 + 0.16 * valence))
    mouth = QPainterPath(left)
    mouth.quadTo(bend, right)
    painter.drawPath(mouth)
    painter.restore()


class FaceWidget(QWidget):
    """A painted face that keeps its square shape inside whatever space the layout gives it."""

    def __init__(self, valence: float = 1.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._valence = valence
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        paint_face(painter, QRectF(self.rect()), self._valence)


class FaceButton(QAbstractButton):
    """One of the three big feedback faces: a painted face with its word underneath."""

    pressed_face = Signal(str)

    def __init__(self, face: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.face = face
        self.setObjectName(f"face_{face}")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.clicked.connect(lambda: emit(self.pressed_face, self.face))

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(240, 300)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(120, 150)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect())
        text_h = rect.height() * 0.2
        face_rect = QRectF(rect.left(), rect.top(), rect.width(), rect.height() - text_h).adjusted(8, 8, -8, -8)
        color = theme.FACE_COLORS[self.face]
        if self.isDown():
            color = color.darker(115)
        paint_face(painter, face_rect, FACE_VALENCE[self.face], color)
        font = QFont(self.font())
        font.setBold(True)
        font.setPixelSize(max(10, round(min(text_h * 0.55, rect.width() / max(4, len(self.text())) * 1.4))))
        painter.setFont(font)
        painter.setPen(QColor(theme.INK))
        painter.drawText(
            QRectF(rect.left(), rect.bottom() - text_h, rect.width(), text_h),
            Qt.AlignmentFlag.AlignCenter,
            self.text(),
        )


class MoodGauge(QWidget):
    """The room's mood as a red-to-green bar with a face marking the mood index; grey while unknown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._index: float | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(120)

    @property
    def index(self) -> float | None:
        return self._index

    def set_index(self, index: float | None) -> None:
        if index is not None:
            index = max(-1.0, min(1.0, float(index)))
        if index != self._index:
            self._index = index
            self.update()

    def set_unit(self, unit: float) -> None:
        self.setFixedHeight(round(unit * 11))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        h = self.height()
        face = h * 0.92
        bar = QRectF(face / 2, h * 0.35, self.width() - face, h * 0.3)
        if self._index is None:
            painter.setBrush(QColor("#D5D0C4"))
        else:
            gradient = QLinearGradient(bar.topLeft(), bar.topRight())
            gradient.setColorAt(0.0, theme.FACE_COLORS["unhappy"])
            gradient.setColorAt(0.5, theme.FACE_COLORS["neutral"])
            gradient.setColorAt(1.0, theme.FACE_COLORS["happy"])
            painter.setBrush(QBrush(gradient))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(bar, bar.height() / 2, bar.height() / 2)
        if self._index is not None:
            x = bar.left() + (self._index + 1.0) / 2.0 * bar.width()
            paint_face(painter, QRectF(x - face / 2, (h - face) / 2, face, face), self._index)


class OfferIcon(QWidget):
    """A coloured tile with a pictogram of the offer's category (kiosk.ui.pictograms), else the symbol of its
    icon name, else the initial of its title.

    The tile is painted once per (look, size, pixel ratio) into a shared pixmap cache: a scan then only copies
    pixmaps, and the few dozen categories of a store stay a few hundred KB."""

    def __init__(self, icon: str, title: str, category: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setFixedSize(96, 96)
        self._look: tuple[object, ...] | None = None  # what the tile shows: the key of its cached pixmap
        self.set_offer(icon, title, category)

    def set_offer(self, icon: str, title: str, category: str) -> None:
        """Show the tile of another offer (repainted only when its look changes)."""
        pictogram = pictogram_for(category, icon, title)
        symbol = ICON_SYMBOLS.get(icon.lower()) or (title[:1].upper() or "?")
        color = QColor(_ICON_PALETTE[zlib.crc32((category or icon).encode("utf-8")) % len(_ICON_PALETTE)])
        look = (pictogram, None if pictogram else symbol, color.rgb())
        if look != self._look:
            self.pictogram, self.symbol, self.color, self._look = pictogram, symbol, color, look
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        ratio = self.devicePixelRatioF()
        key = (*self._look, self.width(), self.height(), ratio)
        pixmap = _TILE_CACHE.get(key)
        if pixmap is None:
            pixmap = QPixmap(round(self.width() * ratio), round(self.height() * ratio))
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            tile = QPainter(pixmap)
            self._paint_tile(tile, QRectF(0, 0, self.width(), self.height()))
            tile.end()
            if len(_TILE_CACHE) >= _TILE_CACHE_SIZE:
                _TILE_CACHE.pop(next(iter(_TILE_CACHE)))
            _TILE_CACHE[key] = pixmap
        QPainter(self).drawPixmap(0, 0, pixmap)

    def _paint_tile(self, painter: QPainter, area: QRectF) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = area.adjusted(1, 1, -1, -1)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.color)
        painter.drawRoundedRect(rect, rect.width() * 0.2, rect.width() * 0.2)
        if self.pictogram is not None:
            inset = rect.width() * 0.14
            paint_pictogram(painter, rect.adjusted(inset, inset, -inset, -inset), self.pictogram, self.color)
            return
        font = QFont("DejaVu Sans")
        font.setPixelSize(round(rect.height() * 0.55))
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("#FFFFFF"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.symbol)


_TILE_CACHE_SIZE = 256  # tiles of ~100x100 px: at most ~10 MB
_TILE_CACHE: dict[tuple[object, ...], QPixmap] = {}


class QrCode(QWidget):
    """A QR code painted module by module (crisp at any size); the store's privacy page on the notice."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("privacyQr")
        self._modules: tuple[tuple[bool, ...], ...] = ()
        self.text = ""

    def set_text(self, text: str) -> None:
        from kiosk.qr import qr_modules

        if text != self.text:
            self.text = text
            self._modules = qr_modules(text) if text else ()
            self.update()

    @property
    def modules(self) -> int:
        return len(self._modules)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt name)
        if not self._modules:
            return
        n = len(self._modules)
        side = min(self.width(), self.height())
        cell = side / n
        painter = QPainter(self)
        painter.fillRect(QRectF(0, 0, side, side), QColor("#FFFFFF"))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#000000"))
        for r, row in enumerate(self._modules):
            for c, dark in enumerate(row):
                if dark:
                    painter.drawRect(QRectF(c * cell, r * cell, cell + 0.5, cell + 0.5))
        painter.end()
