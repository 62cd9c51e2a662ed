"""Catalogue and loyalty texts (offer titles, product and first names) fitted into a few lines with an ellipsis."""
from __future__ import annotations

import re

from PySide6.QtCore import QEvent, Qt
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
    shopper sees."""

    def __init__(self, max_lines: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.max_lines = max_lines
        self._full = ""
        self.setWordWrap(True)  # the fitted lines fit; wrapping keeps QLabel's height-for-width layout
        self.setTextFormat(Qt.TextFormat.PlainText)

    def text(self) -> str:
        return self._full

    def shown_text(self) -> str:
        return super().text()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        if text != self._full:
            self._full = text
            self._refit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._refit()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - a style sheet change brings another font
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._refit()

    def _refit(self) -> None:
        self.ensurePolished()
        width = self.contentsRect().width() - 2 * self.margin() - max(0, self.indent())
        shown = fit_lines(self._full, self.font(), width, self.max_lines)
        if shown != super().text():
            super().setText(shown)
