"""Mood windows: distinct people, one label per person, mood index, k-anonymity merge, skipped/empty windows."""
from __future__ import annotations

from datetime import datetime, timezone

from vision.aggregate import UNCERTAIN, MoodAggregator, mood_index

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def feed(agg: MoodAggregator, start: float, seconds: float, people: dict, fps: float = 10.0) -> list:
    out = []
    for i in range(int(seconds * fps)):
        out += agg.observe(start + i / fps, people)
    return out


def test_person_held_for_a_window_counts_once():
    agg = MoodAggregator(60, k=1, classes=CLASSES)
    assert feed(agg, 0.0, 59.0, {7: "happy"}) == []
    (window,) = agg.advance(60.0)
    assert window.people == 1 and window.counts["happy"] == 1 and sum(window.counts.values()) == 1
    assert window.start == datetime(1970, 1, 1, tzinfo=timezone.utc) and (window.end - window.start).seconds == 60
    assert window.mood_index == 1.0 and window.merged_windows == 1


def test_label_is_the_most_frequent_confident_one():
    agg = MoodAggregator(10, k=1, classes=CLASSES)
    feed(agg, 0.0, 3.0, {1: "sad"})
    feed(agg, 3.0, 5.0, {1: "happy"})
    feed(agg, 8.0, 1.0, {1: None})
    (window,) = agg.advance(10.0)
    assert window.counts["happy"] == 1 and window.counts["sad"] == 0 and window.counts[UNCERTAIN] == 0


def test_never_confident_is_uncertain_and_neutral_in_the_index():
    agg = MoodAggregator(10, k=1, classes=CLASSES)
    feed(agg, 0.0, 5.0, {1: None, 2: "happy", 3: "angry"})
    (window,) = agg.advance(10.0)
    assert window.people == 3 and window.counts[UNCERTAIN] == 1
    assert window.mood_index == 0.0  # (+1 - 1) / 2 labelled people


def test_window_below_k_is_merged_into_the_next():
    agg = MoodAggregator(10, k=3, classes=CLASSES)
    assert feed(agg, 0.0, 10.0, {1: "happy", 2: "happy"}) == []  # 2 people < k: held back
    out = feed(agg, 10.0, 10.0, {2: "happy", 3: "sad"}) + agg.advance(20.0)
    (window,) = out
    assert window.people == 3  # track 2 is in both windows: still one person
    assert window.merged_windows == 2
    assert window.start.timestamp() == 0.0 and window.end.timestamp() == 20.0
    assert window.counts["happy"] == 2 and window.counts["sad"] == 1


def test_pending_below_k_is_dropped_at_shutdown_never_sent():
    agg = MoodAggregator(10, k=3, classes=CLASSES)
    feed(agg, 0.0, 10.0, {1: "happy"})
    assert agg.advance(10.0) == []
    assert agg.flush(25.0) == []


def test_empty_window_reported_and_unseen_windows_skipped():
    agg = MoodAggregator(10, k=3, classes=CLASSES)
    feed(agg, 0.0, 5.0, {})
    (empty,) = agg.advance(10.0)
    assert empty.people == 0 and empty.mood_index == 0.0 and sum(empty.counts.values()) == 0
    assert agg.advance(50.0) == []  # camera down for 40 s: no frames, no windows
    feed(agg, 50.0, 5.0, {4: "neutral", 5: "neutral", 6: "surprise"})
    (back,) = agg.flush(55.0)
    assert back.start.timestamp() == 50.0 and back.end.timestamp() == 55.0 and back.people == 3


def test_mood_index_mapping_stays_in_range():
    assert mood_index({"happy": 3}) == 1.0
    assert mood_index({"sad": 1, "angry": 1, "disgust": 1}) == -1.0
    assert mood_index({"fear": 1, "surprise": 1}) == -0.125
    assert mood_index({UNCERTAIN: 4}) == 0.0
    assert mood_index({"happy": 1, "neutral": 1, "unknown_class": 2}) == 0.25


def test_late_frame_never_reopens_a_closed_window():
    agg = MoodAggregator(10, k=1, classes=CLASSES)
    feed(agg, 0.0, 9.0, {1: "happy"})
    (first,) = agg.advance(10.2)  # closed on the clock while a frame was still in flight
    assert agg.observe(9.95, {1: "happy"}) == []  # that frame was captured at 9.95 s
    (second,) = agg.advance(20.0)
    assert first.start.timestamp() == 0.0 and second.start.timestamp() == 10.0
