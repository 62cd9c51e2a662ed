"""One mood formula: the kiosk's attract gauge and the published mood.v1 window give the same index for the
same faces (the gauge may round to fewer digits; with no labelled face the gauge shows none, the window 0.0)."""
from __future__ import annotations

from itertools import combinations_with_replacement

import pytest

from contract.valence import VALENCE
from kiosk.session import room_mood_from_labels
from vision.aggregate import MoodAggregator

LABELS: tuple[str | None, ...] = (*VALENCE, None, "unknown_class")


def published_index(labels: tuple[str | None, ...]) -> float:
    """The mood index of the one window a real aggregator reports for these people seen in one frame."""
    aggregator = MoodAggregator(10, k=1, classes=tuple(VALENCE))
    aggregator.observe(0.0, dict(enumerate(labels)))
    (window,) = aggregator.advance(10.0)
    assert window.people == len(labels)
    return window.mood_index


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_attract_gauge_and_published_window_agree(size: int) -> None:
    for labels in combinations_with_replacement(LABELS, size):
        gauge = room_mood_from_labels(labels).mood_index
        published = published_index(labels)
        if all(label is None for label in labels):
            assert gauge is None and published == 0.0, labels
        else:
            assert gauge == pytest.approx(published, abs=6e-4), labels


def test_surprise_and_fear_use_the_published_weights_on_the_gauge() -> None:
    assert room_mood_from_labels(["surprise"]).mood_index == 0.5
    assert room_mood_from_labels(["fear"]).mood_index == -0.75
    assert room_mood_from_labels(["fear", "surprise", None]).mood_index == -0.125
