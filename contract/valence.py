"""The one mood formula: the valence of each expression and the mood index, shared by the kiosk's attract
gauge and the published mood.v1 windows so the screen never shows a number the dashboard does not receive.

The index is the mean valence of the labelled people:

    happy +1.0, surprise +0.5, neutral 0.0, fear -0.75, sad -1.0, angry -1.0, disgust -1.0

(surprise leans positive in a shop: new offers, not shock; fear is weaker evidence of a bad visit than
anger or sadness). ``uncertain`` is no label; unknown class names count as 0.0; the index is in [-1, 1].
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

UNCERTAIN = "uncertain"
VALENCE: Mapping[str, float] = MappingProxyType({
    "happy": 1.0,
    "surprise": 0.5,
    "neutral": 0.0,
    "fear": -0.75,
    "sad": -1.0,
    "angry": -1.0,
    "disgust": -1.0,
})


def mood_index(counts: Mapping[str, int], valence: Mapping[str, float] = VALENCE) -> float | None:
    """Mean valence of the labelled people in `counts` (``uncertain`` excluded); None when no one is labelled."""
    labelled = {k: v for k, v in counts.items() if k != UNCERTAIN and v > 0}
    total = sum(labelled.values())
    if total == 0:
        return None
    value = sum(valence.get(k, 0.0) * v for k, v in labelled.items()) / total
    return max(-1.0, min(1.0, value))
