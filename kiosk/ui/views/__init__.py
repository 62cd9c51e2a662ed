"""The kiosk's screens: layout and style only; controllers decide what they show."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from kiosk.ui.fit_text import FitLabel


def make_label(role: str, parent: QWidget | None = None, *, wrap: bool = True, center: bool = True) -> QLabel:
    """A label styled by `role` (see kiosk.ui.theme.stylesheet) that wraps instead of being cut off."""
    label = QLabel(parent)
    label.setProperty("role", role)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if center:
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


def make_fit_label(role: str, max_lines: int, parent: QWidget | None = None, *, center: bool = True) -> FitLabel:
    """A label for catalogue or loyalty data (names, titles): at most `max_lines` lines, then an ellipsis."""
    label = FitLabel(max_lines, parent)
    label.setProperty("role", role)
    if center:
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


def make_button(name: str, primary: bool = False, parent: QWidget | None = None) -> QPushButton:
    button = QPushButton(parent)
    button.setObjectName(name)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the card reader, never to a button
    if primary:
        button.setProperty("role", "primary")
    return button
