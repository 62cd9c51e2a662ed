"""Shared bits of the Qt kiosk tests: demo card numbers, a hand-moved clock, the text-fit check, a wedge scan."""
from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QWidget

from kiosk.ui.fit_text import FitLabel

ANNA = "2900000000018"  # demo persona, language de
CLARA = "2900000000032"  # demo persona, language en
FELIX_LUHN = "6012000000000060"
UNKNOWN_EAN = "4006381333931"  # valid EAN-13, not a customer
BAD_CHECK = "2900000000019"  # Anna's number with a wrong check digit

LANDSCAPE, PORTRAIT = (1920, 1080), (1080, 1920)


class ManualClock:
    """Monotonic clock the test moves by hand, so timeouts need no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def clipped_texts(root: QWidget) -> list[str]:
    """Visible labels whose text does not fit: wrapped text taller than the label, or a label off the window."""
    problems = []
    window_rect = root.rect()
    placed: list[tuple[QLabel, QRect]] = []
    for label in root.findChildren(QLabel):
        if not label.isVisibleTo(root) or not label.text():
            continue
        top_left = label.mapTo(root, label.rect().topLeft())
        bottom_right = label.mapTo(root, label.rect().bottomRight())
        if not (window_rect.contains(top_left) and window_rect.contains(bottom_right)):
            problems.append(f"{label.text()!r} lies outside the window")
            continue
        rect = QRect(top_left, bottom_right)
        for other, other_rect in placed:
            if rect.intersects(other_rect):
                problems.append(f"{label.text()!r} overlaps {other.text()!r}")
        placed.append((label, rect))
        if isinstance(label, FitLabel):  # it breaks its own lines, and shows fewer when squeezed: judge those
            shown = label.shown_size()
            if shown.height() > label.contentsRect().height() + 1 or shown.width() > label.contentsRect().width() + 1:
                problems.append(f"{label.shown_text()!r} needs {shown.width()}x{shown.height()}px, has "
                                f"{label.contentsRect().width()}x{label.contentsRect().height()}px")
        elif label.wordWrap():
            needed = label.heightForWidth(label.width())
            if needed > label.height() + 1:
                problems.append(f"{label.text()!r} needs {needed}px, has {label.height()}px")
            wide = wrapped_width(label)  # a word longer than the line is not wrapped but runs off both sides
            if wide > label.contentsRect().width() + 1:
                problems.append(f"{label.text()!r} needs {wide}px wide, has {label.contentsRect().width()}px")
        elif label.sizeHint().width() > label.width() + 1:
            problems.append(f"{label.text()!r} needs {label.sizeHint().width()}px wide, has {label.width()}px")
    return problems


def wrapped_width(label: QLabel) -> int:
    """The width a word-wrapped label's text takes at the label's width (wider when a word cannot break)."""
    width = label.contentsRect().width()
    box = QFontMetrics(label.font()).boundingRect(QRect(0, 0, width, 100_000), Qt.TextFlag.TextWordWrap, label.text())
    return box.width()


def wedge_scan(window: QWidget, text: str) -> None:
    """What a USB keyboard-wedge reader does: type the digits fast, then Enter."""
    QTest.keyClicks(window, text)
    QTest.keyClick(window, Qt.Key.Key_Return)
