"""The printable camera sign for the kiosk's surroundings: A4 SVG, German and English, from the same config
values (`[privacy]` controller, contact, privacy_url; `[mood]` k_anonymity) and the same translation files as
the screen notice, so sign and screen cannot say different things."""
from __future__ import annotations

import textwrap
from xml.sax.saxutils import escape

from kiosk.config import KioskConfig
from kiosk.i18n import load_translator
from kiosk.qr import qr_svg

PAGE_W, PAGE_H, MARGIN = 210.0, 297.0, 14.0  # A4 in millimetres
CHAR_WIDTH = 0.56  # DejaVu Sans: mean advance of running text, in em (for line wrapping)
SIGN_LANGUAGES = ("de", "en")


def _lines(text: str, size_mm: float, width_mm: float) -> list[str]:
    return textwrap.wrap(text, max(20, int(width_mm / (size_mm * CHAR_WIDTH))))


class _Page:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.y = MARGIN

    def text(self, text: str, size: float, *, bold: bool = False, width: float = PAGE_W - 2 * MARGIN,
             color: str = "#17324D", gap: float = 0.35) -> None:
        weight = ' font-weight="bold"' if bold else ""
        for line in _lines(text, size, width):
            self.y += size
            self.parts.append(
                f'<text x="{MARGIN}" y="{self.y:.1f}" font-size="{size}" fill="{color}"{weight}>{escape(line)}</text>'
            )
            self.y += size * gap
        self.y += size * 0.5


def camera_symbol(x: float, y: float, size: float) -> str:
    """A plain camera pictogram (body, lens, viewfinder)."""
    s = size / 40
    return (
        f'<g transform="translate({x} {y}) scale({s:.3f})" fill="#17324D">'
        '<rect x="2" y="10" width="36" height="24" rx="4"/><rect x="13" y="5" width="14" height="7" rx="2"/>'
        '<circle cx="20" cy="22" r="8.5" fill="#fff"/><circle cx="20" cy="22" r="5.5"/></g>'
    )


def sign_svg(config: KioskConfig) -> str:
    """The whole sign as an SVG document (A4 portrait, sizes in millimetres)."""
    privacy = config.privacy
    page = _Page()
    page.parts.append(camera_symbol(PAGE_W - MARGIN - 30, MARGIN - 2, 30))
    for language in SIGN_LANGUAGES:
        t = load_translator(language)
        page.text(t("sign.title"), 10.0, bold=True, width=PAGE_W - 2 * MARGIN - 34)
        staff = [t("sign.staff_zones")] if config.camera.privacy_zones else []  # only what this kiosk does
        if config.mood.max_dwell_s is not None:
            staff.append(t("sign.staff_dwell", minutes=f"{config.mood.max_dwell_s / 60:g}"))
        page.text(" ".join([t("sign.body", k=config.mood.k_anonymity), *staff]), 4.6)
        page.text(t("sign.choice"), 4.6, bold=True)
        page.text(t("sign.controller", controller=privacy.controller), 4.2)
        page.text(t("sign.contact", contact=privacy.contact), 4.2)
        page.y += 3
        page.parts.append(f'<line x1="{MARGIN}" y1="{page.y:.1f}" x2="{PAGE_W - MARGIN}" y2="{page.y:.1f}" '
                          'stroke="#9FB3C8" stroke-width="0.5"/>')
        page.y += 4
    qr_size = 48.0
    qr_top = max(page.y, PAGE_H - MARGIN - qr_size - 8)
    page.parts.append(qr_svg(privacy.privacy_url, MARGIN, qr_top, qr_size))
    more = " / ".join(load_translator(lang)("sign.more", url="").rstrip(": ").strip() for lang in SIGN_LANGUAGES)
    page.parts.append(f'<text x="{MARGIN + qr_size + 6}" y="{qr_top + 20:.1f}" font-size="5" font-weight="bold" '
                      f'fill="#17324D">{escape(more)}:</text>')
    page.parts.append(f'<text x="{MARGIN + qr_size + 6}" y="{qr_top + 28:.1f}" font-size="4.4" '
                      f'fill="#17324D">{escape(privacy.privacy_url)}</text>')
    height = max(PAGE_H, qr_top + qr_size + MARGIN)
    body = "\n".join(page.parts)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PAGE_W}mm" height="{height:.0f}mm" '
        f'viewBox="0 0 {PAGE_W} {height:.0f}" font-family="DejaVu Sans, Arial, sans-serif">\n'
        f'<rect width="{PAGE_W}" height="{height:.0f}" fill="#fff"/>\n{body}\n</svg>\n'
    )
