"""Catalogue and loyalty texts (offer titles, product and first names) fitted into a few lines with an ellipsis."""
from __future__ import annotations

import re

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QResizeEvent, QTextLayout, QTextOption
from PySide6.QtWidgets import QLabel, QWidget

ELLIPSIS = "\u2026"
# Line and paragraph breaks, tabs and other control characters: a title is one paragraph, whatever the file held
# (not `\s`: it would also take the no-break spaces that keep "500 g" together).
_BREAKS = re.compile("[ \x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_paragraph(text: str) -> str:
    """`text` with every run of spaces, line breaks or control characters as one space."""
    return _BREAKS.sub(" ", text).strip()


def fit_lines(text: str, font: QFont, width: float, max_lines: int) -> str:
    """`text` broken into at most `max_lines` lines of at most `width` px, joined by newlines.

    Why not QLabel's word wrap: it cannot break a word longer than the line (a 60-letter product name runs
    off the card, cut on both sides) and has no limit on lines (a 200-character title pushes the price and
    validity off the card). Here a word too long for a line breaks anywhere, and the last line ends in an
    ellipsis when the text goes on."""
    text = one_paragraph(text)
    if not text or width <= 0 or max_lines < 1:
        return text
    units = text.encode("utf-16-le")  # QTextLayout counts UTF-16 code units; an emoji is two of them

    def piece(start: int, end: int) -> str:
        return units[2 * start:2 * end].decode("utf-16-le", errors="ignore")

    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout = QTextLayout(text, font)
    layout.setTextOption(option)
    layout.beginLayout()
    starts: list[int] = []
    while len(starts) <= max_lines:  # one line more than allowed tells whether the text goes on
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        starts.append(line.textStart())
    layout.endLayout()
    ends = starts[1:] + [len(units) // 2]
    lines = [piece(a, b).strip() for a, b in zip(starts, ends)]
    if len(lines) <= max_lines:
        return "\n".join(lines)
    rest = piece(starts[max_lines - 1], len(units) // 2).strip()
    metrics = QFontMetricsF(font)
    last = metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width)
    if not last.endswith(ELLIPSIS):  # elidedText keeps a text that fits whole; this one was cut
        last = metrics.elidedText(rest + ELLIPSIS * 3, Qt.TextElideMode.ElideRight, width)
    return "\n".join([*lines[:max_lines - 1], last])


class FitLabel(QLabel):
    """A label for outside data: shows its text in at most `max_lines` lines at its current width (see
    `fit_lines`), refitted on every resize. `text()` is the text as given (the data), `shown_text()` what the
    shopper sees.

    It asks the layout for the height of `max_lines` lines but needs only one: on a crowded screen (five cards
    under a long camera notice) it is the label that gives up height, showing fewer lines with an ellipsis,
    while prices and dates keep theirs. Its width is the layout's to give (the lines shown were fitted to the
    last width; asking for them would keep a card once wide wider than its neighbours)."""

    def __init__(self, max_lines: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.max_lines = max_lines
        self._full = ""
        self._wish_width = -1  # the width `sizeHint` last answered for
        self.setWordWrap(False)  # the lines are broken here; QLabel only draws them
        self.setTextFormat(Qt.TextFormat.PlainText)

    def text(self) -> str:
        return self._full

    def shown_text(self) -> str:
        return super().text()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        if text != self._full:
            self._full = text
            self._refit()
            self.updateGeometry()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._refit()
        if self._inner_width() != self._wish_width:  # another width may want another number of lines
            self.updateGeometry()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - a style sheet change brings another font
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._refit()
            self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802
        self.ensurePolished()
        self._wish_width = self._inner_width()
        wish = fit_lines(self._full, self.font(), self._wish_width, self.max_lines)
        return QSize(self.fontMetrics().averageCharWidth() * 12, self._text_size(wish).height() + self._frame())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        self.ensurePolished()
        return QSize(0, (self.fontMetrics().height() if self._full else 0) + self._frame())

    def shown_size(self) -> QSize:
        """The size the shown lines take (within the label's: fewer lines are shown when it is squeezed)."""
        return self._text_size(super().text())

    def _text_size(self, text: str) -> QSize:
        if not text:
            return QSize(0, 0)
        return self.fontMetrics().boundingRect(0, 0, 1 << 20, 1 << 20, int(self.alignment()), text).size()

    def _frame(self) -> int:
        margins = self.contentsMargins()
        return margins.top() + margins.bottom() + 2 * self.margin()

    def _inner_width(self) -> int:
        return self.contentsRect().width() - 2 * self.margin() - max(0, self.indent())

    def _refit(self) -> None:
        """Fit the text to the label's width, and to its height: as many lines as fit, at most `max_lines`."""
        self.ensurePolished()
        metrics = self.fontMetrics()
        room = self.contentsRect().height() - 2 * self.margin() + metrics.leading()
        lines = max(1, min(self.max_lines, room // metrics.lineSpacing())) if metrics.lineSpacing() > 0 else 1
        shown = fit_lines(self._full, self.font(), self._inner_width(), lines)
        if shown != super().text():
            super().setText(shown)
