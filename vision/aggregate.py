"""Mood aggregation: closed time windows of distinct people, people per expression, mood index, k-anonymity.

Mood index: each person of a window gets one label, the confident expression they showed most often in
that window (``uncertain`` when never confident). The index is `contract.valence.mood_index` (the one
formula the kiosk's attract gauge uses too) over those labels; no labelled person: index 0.0.

k-anonymity: a window with fewer than k distinct people is not reported; it is merged into the next
window(s) until together they reach k (people are counted once across the merged span, by track id). A
window with no people at all is reported as is (it says nothing about anyone). Windows in which no frame
was seen (camera down) are skipped: we do not know who was there. A pending merge that never reaches k
is dropped at shutdown, never reported.
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

from contract.valence import UNCERTAIN, VALENCE
from contract.valence import mood_index as valence_mood_index
from vision.types import MoodWindow

logger = logging.getLogger(__name__)

# A frame up to this much older than the newest frame is late (processed after a window closed) and still
# counts; older than that, the system clock was set back.
CLOCK_STEP_TOLERANCE_S = 5.0
# A step back larger than this means the earlier time was wrong (a kiosk booted with a bad RTC, then NTP):
# central refuses windows that far ahead of its clock (its default --max-clock-skew-s), so waiting for the
# clock to catch up would only publish nothing for that long. The windows start again at the corrected time.
CLOCK_RESET_S = 900.0


def mood_index(counts: Mapping[str, int], valence: Mapping[str, float] = VALENCE) -> float:
    """The published index: `contract.valence.mood_index`, 0.0 when no one in the window is labelled."""
    value = valence_mood_index(counts, valence)
    return 0.0 if value is None else value


@dataclass(slots=True)
class _Span:
    """One open base window, or several merged ones waiting to reach k people."""

    start: float
    end: float
    frames: int = 0
    windows: int = 1
    labels: dict[int, Counter] = field(default_factory=dict)

    def absorb(self, other: _Span) -> None:
        self.end = other.end
        self.frames += other.frames
        self.windows += other.windows
        for track_id, counter in other.labels.items():
            self.labels.setdefault(track_id, Counter()).update(counter)


class MoodAggregator:
    """Turns per-frame people (track id -> label or None) into closed, k-anonymous `MoodWindow`s."""

    def __init__(self, window_seconds: float, k: int, classes: Sequence[str] | None) -> None:
        self._length = float(window_seconds)
        self._k = k
        self._classes = tuple(classes or ())
        self._current: _Span | None = None
        self._pending: _Span | None = None
        self._closed_until = float("-inf")  # end of the last closed window: no window may open before it
        self.clock_step_frames = 0  # frames left out because the clock had been set back behind a closed window
        self._stepped_back = False
        self._newest = float("-inf")  # the latest frame time seen (a frame far behind it: the clock went back)
        self.clock_resets = 0  # times the clock went back more than CLOCK_RESET_S and the windows started again

    def _window_of(self, ts: float) -> _Span:
        start = math.floor(ts / self._length) * self._length
        return _Span(start, start + self._length)

    def observe(self, ts: float, people: Mapping[int, str | None]) -> list[MoodWindow]:
        """Record one processed frame at time `ts`; returns the windows this closed (usually none).

        A frame captured just before a window closed on the clock but processed after it joins the open
        window instead of reopening the closed one (a window is reported once, never twice). A frame stamped
        long before the newest one means the system clock was set back (NTP, a wrong RTC at boot): frames are
        not counted until the clock is past the newest again. Before, every such frame was pinned to the
        open window, which then held everyone of the hour after a one-hour step in one "60 s" window.
        A step back beyond CLOCK_RESET_S instead drops the open windows (stamped with the wrong time) and goes
        on at once from the corrected clock.
        """
        if ts < self._newest - CLOCK_RESET_S:
            self._start_again(ts)
        if ts < self._newest - CLOCK_STEP_TOLERANCE_S:
            if not self._stepped_back:
                logger.warning("frame stamped %.0f s before the newest one: the clock was set back; frames are not "
                               "counted until it is past %s again", self._newest - ts,
                               datetime.fromtimestamp(self._newest, tz=timezone.utc).isoformat())
            self._stepped_back = True
            self.clock_step_frames += 1
            return []
        self._stepped_back = False
        self._newest = max(self._newest, ts)
        ts = max(ts, self._closed_until)
        closed = self.advance(ts)
        if self._current is None:
            self._current = self._window_of(ts)
        span = self._current
        span.frames += 1
        for track_id, label in people.items():
            span.labels.setdefault(track_id, Counter())[label or UNCERTAIN] += 1
        return closed

    def _start_again(self, ts: float) -> None:
        """The clock went back by more than CLOCK_RESET_S: what was stamped before was stamped wrongly."""
        dropped = sum(span.frames for span in (self._current, self._pending) if span is not None)
        logger.warning("frame stamped %.0f s before the newest one: the clock was wrong and has been corrected; "
                       "windows start again at %s (%d frame(s) of the open windows dropped)", self._newest - ts,
                       datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(), dropped)
        self._current = self._pending = None
        self._closed_until = self._newest = float("-inf")
        self._stepped_back = False
        self.clock_resets += 1

    def drop_tracks(self, track_ids: Iterable[int]) -> int:
        """Remove these tracks from the open window and from a pending merge (a shopper who paused mood
        reading, staff found dwelling too long); returns how many entries were removed."""
        removed = 0
        for span in (self._current, self._pending):
            if span is None:
                continue
            for track_id in track_ids:
                if span.labels.pop(track_id, None) is not None:
                    removed += 1
        return removed

    def advance(self, now: float) -> list[MoodWindow]:
        """Close the open window if `now` is past its end (call it also when no frames arrive)."""
        if self._current is None or now < self._current.end:
            return []
        span, self._current = self._current, None
        self._closed_until = span.end
        return self._close(span)

    def flush(self, now: float) -> list[MoodWindow]:
        """End of input: close the open window early at `now` (a pending merge below k is dropped)."""
        out: list[MoodWindow] = []
        if self._current is not None:
            span, self._current = self._current, None
            span.end = max(span.start, min(span.end, now))
            out = self._close(span)
        if self._pending is not None:
            logger.info(
                "dropping %d unreported window(s) with %d people (< k=%d) at shutdown",
                self._pending.windows, len(self._pending.labels), self._k,
            )
            self._pending = None
        return out

    def _close(self, span: _Span) -> list[MoodWindow]:
        if span.frames == 0:
            return []
        if self._pending is not None:
            self._pending.absorb(span)
            span, self._pending = self._pending, None
        people = len(span.labels)
        if 0 < people < self._k:
            self._pending = span
            logger.debug("window of %d people < k=%d: merged into the next", people, self._k)
            return []
        return [self._report(span)]

    def _report(self, span: _Span) -> MoodWindow:
        counts: dict[str, int] = {name: 0 for name in self._classes}
        counts[UNCERTAIN] = 0
        for counter in span.labels.values():
            confident = [(n, label) for label, n in counter.items() if label != UNCERTAIN]
            label = max(confident)[1] if confident else UNCERTAIN
            counts[label] = counts.get(label, 0) + 1
        return MoodWindow(
            start=datetime.fromtimestamp(span.start, tz=timezone.utc),
            end=datetime.fromtimestamp(span.end, tz=timezone.utc),
            people=len(span.labels),
            counts=counts,
            mood_index=round(mood_index(counts), 4),
            merged_windows=span.windows,
        )
