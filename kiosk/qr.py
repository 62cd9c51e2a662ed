"""QR codes of the store's privacy page (segno: pure Python, no image library needed), for screen and sign."""
from __future__ import annotations

import segno


def qr_modules(text: str) -> tuple[tuple[bool, ...], ...]:
    """The code's dark (True) and light modules, rows top to bottom, with the standard 4-module quiet zone."""
    code = segno.make(text, error="m", micro=False)
    return tuple(tuple(bool(v) for v in row) for row in code.matrix_iter(scale=1, border=4))


def qr_svg(text: str, x: float, y: float, size: float) -> str:
    """An SVG `<g>` of the code, `size` units square at (x, y), quiet zone included (for the printable sign)."""
    modules = qr_modules(text)
    n = len(modules)
    dark = "".join(f"M{c} {r}h1v1h-1z" for r, row in enumerate(modules) for c, on in enumerate(row) if on)
    return (
        f'<g transform="translate({x:.2f} {y:.2f}) scale({size / n:.5f})">'
        f'<rect width="{n}" height="{n}" fill="#fff"/><path d="{dark}" fill="#000"/></g>'
    )
