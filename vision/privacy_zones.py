"""Privacy zones: polygons of the frame (a till, a staff area) blanked before face detection sees the frame.

Coordinates are fractions of the frame (x from 0 = left edge to 1 = right edge, y from 0 = top to 1 =
bottom), so a zone stays put when the camera's resolution changes; `moodkiosk privacy-zones` draws them
over one live frame for the installer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from vision.errors import VisionError

Point = tuple[float, float]


class ZoneError(VisionError):
    """A privacy zone is not a usable polygon inside the frame."""


def _polygon_area(points: Sequence[Point]) -> float:
    """Shoelace area of a polygon given as fractions of the frame."""
    total = 0.0
    for (x0, y0), (x1, y1) in zip(points, [*points[1:], points[0]]):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2.0


@dataclass(frozen=True, slots=True)
class PrivacyZones:
    """Zero or more polygons (fractions of the frame); `blank(image)` fills them black before detection."""

    polygons: tuple[tuple[Point, ...], ...] = ()

    @classmethod
    def parse(cls, raw: Any, key: str = "privacy_zones") -> PrivacyZones:
        """Decode a list of polygons, each a list of [x, y] pairs; raises ZoneError naming `key`, zone and point."""
        prefix = f"{key}: " if key else ""
        if raw is None:
            return cls()
        if not isinstance(raw, (list, tuple)):
            raise ZoneError(f"{prefix}must be a list of polygons, each a list of [x, y] points (got {raw!r})")
        polygons: list[tuple[Point, ...]] = []
        for zi, polygon in enumerate(raw, 1):
            where = f"{prefix}zone {zi}"
            if not isinstance(polygon, (list, tuple)) or len(polygon) == 0:
                raise ZoneError(f"{where}: is empty; a zone needs at least 3 [x, y] points")
            if len(polygon) < 3:
                raise ZoneError(f"{where}: has {len(polygon)} point(s); a zone needs at least 3 [x, y] points")
            points: list[Point] = []
            for pi, point in enumerate(polygon, 1):
                if (
                    not isinstance(point, (list, tuple))
                    or len(point) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point)
                ):
                    raise ZoneError(f"{where}: point {pi} must be [x, y] with two numbers (got {point!r})")
                x, y = float(point[0]), float(point[1])
                if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                    raise ZoneError(
                        f"{where}: point {pi} [{x:g}, {y:g}] lies outside the frame "
                        "(x and y are fractions of the frame, 0 to 1)"
                    )
                points.append((x, y))
            if _polygon_area(points) < 1e-6:
                raise ZoneError(f"{where}: its points enclose no area (all on one line or one point)")
            polygons.append(tuple(points))
        return cls(tuple(polygons))

    def __bool__(self) -> bool:
        return bool(self.polygons)

    def pixel_polygons(self, width: int, height: int) -> list[np.ndarray]:
        """The polygons in pixels of a `width` x `height` frame, as OpenCV wants them ``(N, 1, 2) int32``."""
        return [
            np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in polygon], np.int32).reshape(-1, 1, 2)
            for polygon in self.polygons
        ]

    def blank(self, image: np.ndarray) -> np.ndarray:
        """A copy of the BGR frame ``(H, W, 3) uint8`` with every zone filled black (the frame itself is kept)."""
        if not self.polygons:
            return image
        import cv2  # here, not at the top: the kiosk config parses zones where OpenCV need not be installed

        out = image.copy()
        cv2.fillPoly(out, self.pixel_polygons(image.shape[1], image.shape[0]), (0, 0, 0))
        return out

    def draw(self, image: np.ndarray) -> np.ndarray:
        """A copy of the frame with the zones shaded and outlined, plus a 0.1 grid, for the installer's check."""
        import cv2

        out = image.copy()
        h, w = out.shape[:2]
        for i in range(1, 10):
            x, y = round(i * (w - 1) / 10), round(i * (h - 1) / 10)
            cv2.line(out, (x, 0), (x, h - 1), (200, 200, 200), 1)
            cv2.line(out, (0, y), (w - 1, y), (200, 200, 200), 1)
            cv2.putText(out, f"{i / 10:.1f}", (x + 2, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
            cv2.putText(out, f"{i / 10:.1f}", (2, y - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        polygons = self.pixel_polygons(w, h)
        shade = out.copy()
        cv2.fillPoly(shade, polygons, (0, 0, 200))
        out = cv2.addWeighted(shade, 0.45, out, 0.55, 0)
        cv2.polylines(out, polygons, True, (0, 0, 255), 2)
        for i, polygon in enumerate(polygons, 1):
            x, y = polygon[0, 0]
            cv2.putText(out, f"zone {i}", (int(x) + 4, int(y) + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        return out
