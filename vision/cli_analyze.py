"""`moodkiosk analyze SOURCE`: run the vision pipeline on a source and print mood windows (and frames) as lines."""
from __future__ import annotations

import argparse
import json
import logging
import queue
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vision.errors import VisionError
from vision.pipeline import VisionPipeline
from vision.config import CameraConfig, MoodConfig
from vision.settings import DEFAULT_EXPRESSION_MODEL, VisionSettings, section
from vision.types import FrameResult, MoodWindow, SourceEvent
from vision.cli_types import seconds, seconds_between

logger = logging.getLogger(__name__)


class SourceFailed(VisionError):
    """The source never delivered a frame; the message says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help='"demo", a camera index, a video file, an image folder or an rtsp/http URL')
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of readable lines")
    parser.add_argument("--frames", action="store_true", help="also print one line per frame (boxes, scores, labels)")
    parser.add_argument("--window", type=float, default=60.0, help="window length in seconds (default 60)")
    parser.add_argument("--k", type=int, default=3, help="k-anonymity: fewest people a reported window may have (default 3)")
    parser.add_argument("--threshold", type=float, default=0.5, help="smoothed confidence needed for a label (default 0.5)")
    parser.add_argument("--model", type=Path, default=None, help="expression .onnx (default models/expression.onnx)")
    parser.add_argument("--no-expression", action="store_true", help="detect and track only")
    parser.add_argument("--detector", choices=["short", "full"], default="short", help="BlazeFace variant (default short)")
    parser.add_argument("--min-face", type=int, default=48, help="smallest face side in pixels (default 48)")
    parser.add_argument("--threads", type=int, default=1, help="expression model threads (default 1)")
    parser.add_argument("--qr", action="store_true", help="decode QR codes too (every 5th frame)")
    parser.add_argument("--realtime", action="store_true", help="pace files at their frame rate (newest frame wins)")
    parser.add_argument("--seconds", type=seconds, default=None, help="stop after this many seconds (live sources)")
    parser.add_argument("--start", type=_utc_time, default=None,
                        help="UTC time of a file's first frame, e.g. 2026-05-01T09:00:00Z (default: now)")
    parser.add_argument("--open-timeout", type=seconds_between(0.0, 600.0), default=5.0, help="seconds a stream may take to open (default 5)")


def _utc_time(text: str) -> float:
    """Parse an ISO 8601 time (naive = UTC) into epoch seconds, for argparse."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def settings_from_args(args: argparse.Namespace) -> VisionSettings:
    """The pipeline's settings from the command line; a value out of its range raises `SettingsError` (one line).

    Files run at full speed unless --realtime; the kiosk's adaptive rate and staff cut stay off here."""
    camera = section(CameraConfig, source=args.source, min_face_px=args.min_face, threads=args.threads, qr=args.qr,
                     idle_fps=0, active_fps=0)
    mood = section(MoodConfig, window_seconds=args.window, k_anonymity=args.k, confidence_threshold=args.threshold,
                   max_dwell_s=None)
    return VisionSettings(
        camera=camera,
        mood=mood,
        expression_model=None if args.no_expression else (args.model or DEFAULT_EXPRESSION_MODEL),
        detector=args.detector,
        realtime_files=args.realtime,
        open_timeout_s=args.open_timeout,
    )


def window_record(window: MoodWindow) -> dict[str, Any]:
    return {
        "type": "window",
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "people": window.people,
        "counts": dict(window.counts),
        "mood_index": window.mood_index,
        "merged_windows": window.merged_windows,
    }


def frame_record(result: FrameResult) -> dict[str, Any]:
    return {
        "type": "frame",
        "t": round(result.timestamp, 3),
        "faces": [
            {
                "box": [f.box.x, f.box.y, f.box.w, f.box.h],
                "score": round(f.score, 3),
                "track": f.track_id,
                "label": f.label,
                "probs": {k: round(v, 3) for k, v in f.probs.items()} if f.probs else None,
            }
            for f in result.faces
        ],
        "qr": result.qr_text,
        "ms": {k: round(v, 2) for k, v in result.timings.items()},
    }


def readable(record: dict[str, Any]) -> str:
    if record["type"] == "window":
        counts = " ".join(f"{k}={v}" for k, v in record["counts"].items() if v)
        merged = f" (merged {record['merged_windows']})" if record["merged_windows"] > 1 else ""
        return f"window {record['start']} .. {record['end']}: {record['people']} people, mood {record['mood_index']:+.2f}{merged}  {counts}"
    if record["type"] == "frame":
        faces = ", ".join(f"#{f['track']} {f['label'] or '?'} {f['score']:.2f} @{f['box']}" for f in record["faces"])
        qr = f"  qr={record['qr']!r}" if record["qr"] else ""
        return f"frame {record['t']:.3f}: {len(record['faces'])} face(s) {faces}{qr}  {record['ms']['total']:.1f} ms"
    return f"source {record['kind']}: {record['message']}"


def main(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    lines: queue.Queue[dict[str, Any]] = queue.Queue()
    state = {"up": False, "error": None}

    def on_event(event: SourceEvent) -> None:
        if event.kind == "up":
            state["up"] = True
        elif event.kind == "down" and not state["up"] and state["error"] is None:
            state["error"] = event.message
        lines.put({"type": "source", "kind": event.kind, "message": event.message})

    def on_frame(result: FrameResult) -> None:
        if args.frames:
            lines.put(frame_record(result))

    pipeline = VisionPipeline(settings, on_frame, lambda w: lines.put(window_record(w)), on_event, epoch=args.start)
    pipeline.start()
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while True:
            done = pipeline.wait(0.05)
            _drain(lines, args.json)
            if state["error"] is not None:
                raise SourceFailed(str(state["error"]))
            if done or (deadline is not None and time.monotonic() >= deadline):
                break
    finally:
        pipeline.stop()
        _drain(lines, args.json)
    health = pipeline.health()
    logger.info("%d frames, %.2f ms per frame, %d dropped", health["frames"], health["inference_ms"], health["frames_dropped"])
    print(f"analyze: peak RSS {peak_rss_mb():.1f} MB", file=sys.stderr)
    return 0


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (VmHWM: unlike ru_maxrss it does not count the pre-exec parent)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _drain(lines: queue.Queue[dict[str, Any]], as_json: bool) -> None:
    while True:
        try:
            record = lines.get_nowait()
        except queue.Empty:
            return
        if record["type"] == "source" and not as_json:
            continue  # readable mode: source events go to the log (stderr)
        print(json.dumps(record) if as_json else readable(record), flush=True)
