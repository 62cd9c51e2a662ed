"""Tracking across frames (missed frames, two people, expiry) and the per-track expression smoothing."""
from __future__ import annotations

import numpy as np

from vision.faces import Detection
from vision.tracking import Tracker
from vision.types import Box

CLASSES = ("happy", "neutral", "sad")


def det(x: int, y: int, side: int = 100) -> Detection:
    return Detection(Box(x, y, side, side), 0.9)


def test_one_person_keeps_one_id_through_missed_frames():
    tracker = Tracker(None, max_missed_s=0.5, min_hits=3)
    ids = set()
    for i in range(45):  # 3 s at 15 fps, every 4th frame missed
        t = i / 15.0
        faces = tracker.update([] if i % 4 == 3 else [det(200 + i, 100)], None, t).faces
        ids.update(f.track_id for f in faces)
    assert ids == {1}


def test_fast_move_at_low_fps_joins_by_centre_distance():
    tracker = Tracker(None, iou=0.3, center_ratio=0.7)
    a = tracker.update([det(100, 100)], None, 0.0).faces[0].track_id
    b = tracker.update([det(165, 100)], None, 0.2).faces[0].track_id  # IoU 0.21 < 0.3, centre 0.65 sides away
    c = tracker.update([det(400, 100)], None, 0.4).faces[0].track_id  # 2.35 sides away: someone else
    assert a == b and c != a


def test_two_people_two_ids_and_expiry_makes_a_new_id():
    tracker = Tracker(None, max_missed_s=0.5, min_hits=1)
    first = tracker.update([det(50, 100), det(400, 100)], None, 0.0).faces
    assert {f.track_id for f in first} == {1, 2}
    again = tracker.update([det(405, 100), det(55, 100)], None, 0.1).faces
    assert [f.track_id for f in again] == [2, 1]
    later = tracker.update([det(50, 100)], None, 2.0).faces  # gone longer than max_missed_s: a new person
    assert later[0].track_id == 3


def test_people_only_after_min_hits():
    tracker = Tracker(None, min_hits=3)
    seen = [tracker.update([det(100, 100)], None, i / 10).people for i in range(4)]
    assert seen[0] == {} and seen[1] == {} and seen[2] == {1: None} and seen[3] == {1: None}


def test_smoothing_needs_sustained_evidence_and_threshold():
    tracker = Tracker(CLASSES, min_hits=1, tau_s=0.5, threshold=0.6)
    happy = np.array([[0.9, 0.05, 0.05]], np.float32)
    sad = np.array([[0.05, 0.05, 0.9]], np.float32)
    face = tracker.update([det(100, 100)], happy, 0.0).faces[0]
    assert face.label == "happy" and abs(sum(face.probs.values()) - 1.0) < 1e-5
    face = tracker.update([det(100, 100)], sad, 0.066).faces[0]  # one sad frame does not flip the label
    assert face.label == "happy"
    for i in range(2, 30):
        face = tracker.update([det(100, 100)], sad, i * 0.066).faces[0]
    assert face.label == "sad"


def test_uncertain_when_no_class_passes_threshold():
    tracker = Tracker(CLASSES, min_hits=1, threshold=0.6)
    flat = np.array([[0.4, 0.35, 0.25]], np.float32)
    update = tracker.update([det(100, 100)], flat, 0.0)
    assert update.faces[0].label is None and update.people == {1: None}
