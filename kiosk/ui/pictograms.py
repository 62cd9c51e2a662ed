"""Category pictograms for offer cards, painted with QPainter (no image files, no emoji font needed).

`pictogram_for` picks one by keywords of the offer's category, then its icon name, then its title (English
and German words); `paint_pictogram` draws it in white into a square.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen

KEYWORDS: dict[str, tuple[str, ...]] = {
    "cup": ("coffee", "kaffee", "espresso", "tea", "tee"),
    "cheese": ("cheese", "käse", "parmesan", "gouda", "brie", "feta"),
    "carton": ("milk", "milch", "dairy", "yogurt", "joghurt", "butter", "cream", "sahne", "oat drink"),
    "bottle": ("water", "wasser", "juice", "saft", "beer", "bier", "lager", "wine", "wein", "prosecco", "drink",
               "getränk", "oil", "öl"),
    "bread": ("bread", "brot", "bakery", "bäckerei", "pastry", "croissant", "roll", "brötchen", "cake", "kuchen"),
    "apple": ("fruit", "obst", "apple", "apfel", "banana", "berries", "beeren", "strawberr"),
    "carrot": ("vegetable", "gemüse", "salad", "salat", "tomato", "tomate", "potato", "kartoffel", "carrot", "karotte"),
    "fish": ("fish", "fisch", "salmon", "lachs"),
    "meat": ("meat", "fleisch", "chicken", "hähnchen", "beef", "rind", "sausage", "wurst"),
    "egg": ("egg", "eier"),
    "snow": ("frozen", "tiefkühl", "ice cream", "eis"),
    "candy": ("chocolate", "schokolade", "sweets", "süß", "snack", "crisps", "chips", "peanut"),
    "jar": ("pantry", "pasta", "spaghetti", "sauce", "soße", "rice", "reis", "spread", "jam", "marmelade", "cereal",
            "muesli", "müsli"),
    "drop": ("care", "pflege", "laundry", "wasch", "household", "haushalt", "shampoo", "detergent", "hygiene", "soap"),
    "paw": ("pet", "cat ", "cat", "dog", "hund", "katze", "tier"),
    "plug": ("electronic", "elektronik", "laptop", "computer", "phone", "headphone", "kopfhörer", "tech"),
}


def _round_pen(color: QColor, width: float) -> QPen:
    """A pen with round ends (PySide6's QPen constructor crashes on a `cap=` keyword)."""
    pen = QPen(color, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    return pen


def pictogram_for(*texts: str) -> str | None:
    """The first pictogram whose keyword occurs in the first text that has one (category, icon, title)."""
    for text in texts:
        lowered = (text or "").lower()
        if not lowered:
            continue
        for name, words in KEYWORDS.items():
            if any(word in lowered for word in words):
                return name
    return None


def paint_pictogram(painter: QPainter, box: QRectF, name: str, background: QColor,
                    color: QColor = QColor("#FFFFFF")) -> None:
    """Draw pictogram `name` in `color` on `background` (used for holes), fitted into the square `box`."""
    s = min(box.width(), box.height())
    x0, y0 = box.center().x() - s / 2, box.center().y() - s / 2

    def p(x: float, y: float) -> QPointF:  # unit coordinates (0..1) -> pixels
        return QPointF(x0 + x * s, y0 + y * s)

    def r(x: float, y: float, w: float, h: float) -> QRectF:
        return QRectF(x0 + x * s, y0 + y * s, w * s, h * s)

    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(color)
    painter.setPen(Qt.PenStyle.NoPen)
    path = QPainterPath()
    if name == "cup":
        path.addRoundedRect(r(0.22, 0.38, 0.44, 0.38), 0.08 * s, 0.08 * s)
        path.addRect(r(0.22, 0.38, 0.44, 0.12))
        painter.drawPath(path)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(color, 0.06 * s))
        painter.drawArc(r(0.58, 0.45, 0.2, 0.2), -90 * 16, 180 * 16)
        for x in (0.34, 0.46):
            painter.drawArc(r(x - 0.03, 0.16, 0.06, 0.16), 90 * 16, 180 * 16)
        painter.drawLine(p(0.16, 0.84), p(0.72, 0.84))
    elif name == "cheese":
        path.moveTo(p(0.14, 0.76))
        path.lineTo(p(0.86, 0.76))
        path.lineTo(p(0.86, 0.3))
        path.lineTo(p(0.14, 0.5))
        path.closeSubpath()
        path.addEllipse(p(0.4, 0.6), 0.07 * s, 0.07 * s)
        path.addEllipse(p(0.68, 0.5), 0.06 * s, 0.06 * s)
        path.addEllipse(p(0.62, 0.67), 0.04 * s, 0.04 * s)
        path.setFillRule(Qt.FillRule.OddEvenFill)
        painter.drawPath(path)
    elif name == "carton":
        path.moveTo(p(0.32, 0.85))
        path.lineTo(p(0.32, 0.35))
        path.lineTo(p(0.42, 0.2))
        path.lineTo(p(0.62, 0.2))
        path.lineTo(p(0.7, 0.35))
        path.lineTo(p(0.7, 0.85))
        path.closeSubpath()
        painter.drawPath(path)
        painter.setBrush(background)
        painter.drawEllipse(p(0.51, 0.58), 0.08 * s, 0.1 * s)
    elif name == "bottle":
        path.addRoundedRect(r(0.34, 0.38, 0.32, 0.48), 0.07 * s, 0.07 * s)
        path.addRect(r(0.44, 0.14, 0.12, 0.28))
        painter.drawPath(path)
        painter.drawRect(r(0.42, 0.12, 0.16, 0.05))
    elif name == "bread":
        path.addRoundedRect(r(0.14, 0.34, 0.72, 0.4), 0.2 * s, 0.2 * s)
        painter.drawPath(path)
        painter.setPen(_round_pen(QColor(0, 0, 0, 70), 0.04 * s))
        for x in (0.32, 0.48, 0.64):
            painter.drawLine(p(x, 0.44), p(x + 0.06, 0.6))
    elif name == "apple":
        painter.drawEllipse(r(0.2, 0.3, 0.34, 0.5))
        painter.drawEllipse(r(0.44, 0.3, 0.34, 0.5))
        painter.setPen(_round_pen(color, 0.05 * s))
        painter.drawLine(p(0.49, 0.32), p(0.52, 0.16))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(r(0.54, 0.14, 0.18, 0.1))
    elif name == "carrot":
        path.moveTo(p(0.3, 0.38))
        path.lineTo(p(0.7, 0.38))
        path.lineTo(p(0.5, 0.9))
        path.closeSubpath()
        painter.drawPath(path)
        painter.setPen(_round_pen(color, 0.06 * s))
        for x in (0.38, 0.5, 0.62):
            painter.drawLine(p(0.5, 0.34), p(x, 0.12))
    elif name == "fish":
        painter.drawEllipse(r(0.14, 0.32, 0.54, 0.36))
        path.moveTo(p(0.62, 0.5))
        path.lineTo(p(0.88, 0.3))
        path.lineTo(p(0.88, 0.7))
        path.closeSubpath()
        painter.drawPath(path)
        painter.setBrush(background)
        painter.drawEllipse(p(0.28, 0.46), 0.035 * s, 0.035 * s)
    elif name == "meat":
        painter.drawEllipse(r(0.14, 0.26, 0.52, 0.48))
        painter.setPen(_round_pen(color, 0.1 * s))
        painter.drawLine(p(0.56, 0.58), p(0.8, 0.8))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(p(0.84, 0.76), 0.06 * s, 0.06 * s)
        painter.drawEllipse(p(0.78, 0.86), 0.06 * s, 0.06 * s)
    elif name == "egg":
        painter.drawEllipse(r(0.3, 0.16, 0.4, 0.64))
    elif name == "snow":
        painter.setPen(_round_pen(color, 0.07 * s))
        center = p(0.5, 0.5)
        for angle in (0, 60, 120):
            painter.save()
            painter.translate(center)
            painter.rotate(angle)
            painter.drawLine(QPointF(0, -0.34 * s), QPointF(0, 0.34 * s))
            for sign in (-1, 1):
                painter.drawLine(QPointF(0, sign * 0.2 * s), QPointF(0.1 * s, sign * 0.3 * s))
                painter.drawLine(QPointF(0, sign * 0.2 * s), QPointF(-0.1 * s, sign * 0.3 * s))
            painter.restore()
    elif name == "candy":
        path.addRoundedRect(r(0.2, 0.26, 0.6, 0.48), 0.05 * s, 0.05 * s)
        painter.drawPath(path)
        painter.setPen(QPen(QColor(0, 0, 0, 70), 0.04 * s))
        painter.drawLine(p(0.5, 0.26), p(0.5, 0.74))
        painter.drawLine(p(0.2, 0.5), p(0.8, 0.5))
    elif name == "jar":
        path.addRoundedRect(r(0.26, 0.32, 0.48, 0.52), 0.1 * s, 0.1 * s)
        painter.drawPath(path)
        painter.drawRoundedRect(r(0.3, 0.18, 0.4, 0.1), 0.03 * s, 0.03 * s)
    elif name == "drop":
        path.moveTo(p(0.5, 0.14))
        path.cubicTo(p(0.5, 0.14), p(0.2, 0.5), p(0.24, 0.64))
        path.arcTo(r(0.24, 0.42, 0.52, 0.44), 180, 180)
        path.cubicTo(p(0.8, 0.5), p(0.5, 0.14), p(0.5, 0.14))
        painter.drawPath(path)
    elif name == "paw":
        painter.drawEllipse(r(0.3, 0.46, 0.4, 0.34))
        for x, y in ((0.24, 0.34), (0.38, 0.22), (0.56, 0.22), (0.7, 0.34)):
            painter.drawEllipse(r(x - 0.04, y, 0.12, 0.14))
    elif name == "plug":
        painter.drawRoundedRect(r(0.3, 0.34, 0.4, 0.3), 0.06 * s, 0.06 * s)
        painter.drawRect(r(0.38, 0.16, 0.07, 0.2))
        painter.drawRect(r(0.55, 0.16, 0.07, 0.2))
        painter.drawRect(r(0.46, 0.62, 0.08, 0.24))
    painter.restore()
