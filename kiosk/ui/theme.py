"""Colours and size rules of the kiosk screens: every size derives from one unit taken from the window size."""
from __future__ import annotations

from PySide6.QtGui import QColor

BACKGROUND = "#F6F3EC"
SURFACE = "#FFFFFF"
INK = "#1F2933"
MUTED = "#52606D"
ACCENT = "#0B6E4F"
ACCENT_INK = "#FFFFFF"
NOTICE_BG = "#E3EEF9"
NOTICE_INK = "#17324D"
ERROR = "#B3261E"

FACE_COLORS = {"happy": QColor("#2E9E5B"), "neutral": QColor("#E0A526"), "unhappy": QColor("#D0503C")}


# The camera notice's font size in units. On a 43-inch 16:9 panel one unit is 5.35 mm at either orientation
# (1/100 of the 535 mm short side), so 3.2 units give DejaVu Sans capitals about 12.9 mm high (26 px at 1080
# lines): 22 arcminutes at 2 m, above the 20' that ISO 9241-303 recommends for characters on a display
# (measured from the label's font metrics at 1920x1080 and 1080x1920 by tests/qt/test_privacy_screen.py).
NOTICE_FONT_UNITS = 3.2


def unit_for(width: int, height: int) -> float:
    """One size unit in pixels: 1/100 of the short side (10.8 px on a 1080p screen either way round)."""
    return max(4.0, min(width, height) / 100.0)


def is_portrait(width: int, height: int) -> bool:
    return height > width


def stylesheet(unit: float) -> str:
    """The whole window's style sheet for this unit; labels pick a size with their `role` property."""
    def px(factor: float) -> int:
        return max(8, round(unit * factor))

    return f"""
    QWidget#kioskRoot {{ background: {BACKGROUND}; }}
    QLabel {{ color: {INK}; font-size: {px(3.2)}px; }}
    QLabel[role="title"] {{ font-size: {px(7.0)}px; font-weight: bold; }}
    QLabel[role="headline"] {{ font-size: {px(4.6)}px; font-weight: bold; }}
    QLabel[role="body"] {{ font-size: {px(3.4)}px; color: {MUTED}; }}
    QLabel[role="caption"] {{ font-size: {px(2.6)}px; color: {MUTED}; }}
    QLabel[role="offerTitle"] {{ font-size: {px(3.0)}px; font-weight: bold; }}
    QLabel[role="offerPrice"] {{ font-size: {px(3.2)}px; font-weight: bold; color: {ACCENT}; }}
    QLabel[role="offerValid"] {{ font-size: {px(2.2)}px; color: {MUTED}; }}
    QLabel[role="offerRegular"] {{ font-size: {px(2.6)}px; color: {MUTED}; }}
    QLabel[role="offerReason"] {{ font-size: {px(2.3)}px; font-style: italic; }}
    QLabel[role="offerRedeem"] {{ font-size: {px(2.2)}px; color: {ACCENT}; }}
    QLabel[role="faceLabel"] {{ font-size: {px(3.2)}px; font-weight: bold; }}
    QLabel[role="notice"] {{ font-size: {px(NOTICE_FONT_UNITS)}px; color: {NOTICE_INK}; }}
    QLabel[role="service"] {{ font-size: {px(1.5)}px; color: {MUTED}; }}
    QFrame#notice {{ background: {NOTICE_BG}; border-radius: {px(1.2)}px; }}
    QFrame#offerCard {{ background: {SURFACE}; border-radius: {px(1.6)}px; border: 1px solid #D9D4C7; }}
    QPushButton {{
        font-size: {px(3.4)}px; padding: {px(1.6)}px {px(4)}px; border-radius: {px(1.4)}px;
        background: {SURFACE}; color: {INK}; border: 2px solid {ACCENT};
    }}
    QPushButton[role="primary"] {{ background: {ACCENT}; color: {ACCENT_INK}; font-weight: bold;
        font-size: {px(4.4)}px; padding: {px(2.0)}px {px(8)}px; }}
    QPushButton[role="choice"] {{ font-size: {px(2.6)}px; padding: {px(1.2)}px {px(2.4)}px; }}
    QPushButton:pressed {{ background: #CFE3DA; }}
    """
