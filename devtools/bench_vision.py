"""`moodkiosk bench`: ms per 640x480 frame (0, 1, 5 faces) by stage, fps, peak RSS, and a Haar-cascade reference.

Runs pinned to one CPU core with one inference thread. Frames show the public-domain NASA astronaut portrait
bundled with the demo clip (cut out, mirrored and placed 0, 1 or 5 times), written to an MPEG-4 file in a
temporary folder so that decoding is timed too. The Haar reference runs OpenCV's frontal-face cascade
(`cv2.data.haarcascades`, else Debian's `opencv-data`) on the same frames in place of BlazeFace, with the same crop, classify and track.
Peak RSS of `moodkiosk analyze` is measured by running it on the bench clip in a child process.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import cv2
import numpy as np

from vision.cli_analyze import peak_rss_mb
from vision.errors import VisionError
from vision.faces import Detection
from vision.pipeline import FrameProcessor
from vision.config import CameraConfig, MoodConfig
from vision.settings import VisionSettings, section
from vision.sources import DEMO_CLIP
from vision.tracking import Tracker
from vision.types import Box

logger = logging.getLogger(__name__)

W, H, FPS = 640, 480, 15
STAGES = ("decode", "convert", "detect", "classify", "track")
# (x, y) of each face patch for the 5-face frame (patches are 198x234 px: 3 on top, 2 below).
FIVE = ((8, 2), (221, 2), (434, 2), (114, 244), (327, 244))
HAAR_FILE = "haarcascade_frontalface_default.xml"
# cv2.data.haarcascades first (OpenCV 4 wheels); OpenCV 5 wheels dropped the files, Debian's opencv-data has them.
HAAR_PATHS = tuple(
    Path(d) / HAAR_FILE
    for d in (getattr(getattr(cv2, "data", None), "haarcascades", ""), "/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades")
    if d
)


class BenchError(VisionError):
    """The benchmark could not build its frames or run."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    parser.add_argument("--frames", type=int, default=150, help="frames per scenario (default 150)")
    parser.add_argument("--model", type=Path, default=None, help="expression .onnx (default models/expression.onnx)")
    parser.add_argument("--detector", choices=["short", "full"], default="short")
    parser.add_argument("--no-rss", action="store_true", help="skip the analyze peak-RSS child run")
    parser.add_argument("--all-cores", action="store_true", help="do not pin to one core")


def _patch() -> np.ndarray:
    """Head and shoulders of the astronaut from the demo clip's first frame, BGR 198x234."""
    cap = cv2.VideoCapture(str(DEMO_CLIP))
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise BenchError(f"demo clip {DEMO_CLIP}: missing or not decodable (needed for the bench frames)")
    person = frame[110:370, 210:430]  # the astronaut of the clip's opening scene
    return cv2.resize(person, (198, 234), interpolation=cv2.INTER_AREA)


def _frames(faces: int, count: int, patch: np.ndarray) -> Iterator[np.ndarray]:
    """`count` frames with `faces` people, each moving a few pixels per frame (so tracking does real work)."""
    wall = np.full((H, W, 3), 180, np.uint8)
    wall[:, :, 0] = np.linspace(170, 140, H, dtype=np.uint8)[:, None]
    spots = {0: (), 1: ((221, 120),), 5: FIVE}[faces]
    for i in range(count):
        frame = wall.copy()
        dx = int(6 * np.sin(i / 8.0))
        for j, (x, y) in enumerate(spots):
            p = cv2.flip(patch, 1) if j % 2 else patch
            x0 = min(max(x + dx, 0), W - p.shape[1])
            frame[y : y + p.shape[0], x0 : x0 + p.shape[1]] = p
        yield frame


def _write_clip(frames: Iterable[np.ndarray], path: Path) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    if not writer.isOpened():
        raise BenchError(f"{path}: OpenCV cannot write mp4v video here")
    for f in frames:
        writer.write(f)
    writer.release()


class HaarDetector:
    """OpenCV's Haar frontal-face cascade with the same interface as `FaceDetector` (reference only)."""

    def __init__(self, min_face_px: int) -> None:
        path = next((p for p in HAAR_PATHS if p.is_file()), None)
        if path is None:
            raise BenchError(
                f"Haar cascade {HAAR_FILE}: not found in {', '.join(map(str, HAAR_PATHS))} "
                "(OpenCV 5 wheels no longer ship it: apt-get install opencv-data)"
            )
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise BenchError(f"Haar cascade {path}: cannot load")
        self._min = min_face_px

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        found = self._cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(self._min, self._min))
        return [Detection(Box(int(x), int(y), int(w), int(h)), 1.0) for x, y, w, h in found]

    def close(self) -> None:
        pass


def _run(processor: FrameProcessor, clip: Path) -> dict[str, Any]:
    """Decode the clip and process every frame; mean ms per stage, faces found per frame."""
    cap = cv2.VideoCapture(str(clip), cv2.CAP_FFMPEG)
    ms: dict[str, list[float]] = {s: [] for s in STAGES}
    faces: list[int] = []
    i = 0
    while True:
        t0 = time.perf_counter()
        ok, image = cap.read()
        t1 = time.perf_counter()
        if not ok:
            break
        result = processor.process(image, 1_000_000.0 + i / FPS).result
        ms["decode"].append((t1 - t0) * 1000.0)
        for stage in STAGES[1:]:
            ms[stage].append(result.timings[stage])
        faces.append(len(result.faces))
        i += 1
    cap.release()
    if not faces:
        raise BenchError(f"{clip}: decoded no frames")
    warm = slice(min(5, len(faces) - 1), None)  # the first frames pay one-off allocations
    mean = {s: statistics.fmean(v[warm]) for s, v in ms.items()}
    core = mean["detect"] + mean["classify"] + mean["track"]
    return {
        "frames": len(faces),
        "faces_found_median": statistics.median(faces),
        "ms": {k: round(v, 3) for k, v in mean.items()},
        "ms_detect_classify_track": round(core, 3),
        "ms_p95_detect_classify_track": round(
            float(np.percentile(np.add(np.add(ms["detect"], ms["classify"]), ms["track"])[warm], 95)), 3
        ),
        "fps": round(1000.0 / (sum(mean.values())), 1),
    }


def _qr_figures(patch: np.ndarray, repeats: int = 30) -> dict[str, Any]:
    """ms to decode a loyalty QR code in a 640x480 frame beside a face, and per frame at the default throttle."""
    code = cv2.QRCodeEncoder.create().encode("moodkiosk:card:4006381333931")
    code = cv2.resize(code, None, fx=5, fy=5, interpolation=cv2.INTER_NEAREST)
    code = cv2.copyMakeBorder(code, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)
    frame = next(_frames(1, 1, patch))
    frame[H - 10 - code.shape[0] : H - 10, 10 : 10 + code.shape[1]] = code[:, :, None]
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    settings = VisionSettings()
    detector = cv2.QRCodeDetector()
    texts, times = set(), []
    for _ in range(repeats):
        t0 = time.perf_counter()
        text, _, _ = detector.detectAndDecode(gray)
        times.append((time.perf_counter() - t0) * 1000.0)
        texts.add(text)
    ms = statistics.median(times)
    return {"decoded": texts == {"moodkiosk:card:4006381333931"}, "ms_per_decode": round(ms, 2),
            "every_n": settings.qr_every_n, "ms_per_frame": round(ms / settings.qr_every_n, 2)}


def _reset(processor: FrameProcessor, settings: VisionSettings) -> None:
    classes = processor.classifier.classes if processor.classifier else None
    processor.tracker = Tracker(classes, settings.track_iou, settings.track_center_ratio, settings.track_max_missed_s,
                                settings.track_min_hits, settings.smoothing_tau_s, settings.mood.confidence_threshold)


def _analyze_rss(clip: Path, model: Path | None) -> float:
    """Peak RSS (MB) of a `moodkiosk analyze --json` child process over `clip`."""
    cmd = [sys.executable, "-m", "kiosk.cli", "analyze", str(clip), "--json", "--log-level", "WARNING"]
    cmd += ["--model", str(model)] if model is not None else ["--no-expression"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
        raise BenchError(f"analyze child failed (rc {proc.returncode}): {tail[0]}")
    found = re.search(r"analyze: peak RSS ([0-9.]+) MB", proc.stderr)
    if found is None:
        raise BenchError("analyze child did not report its peak RSS")
    return float(found.group(1))


def main(args: argparse.Namespace) -> int:
    """Pin to one core (restored afterwards: the bench may run inside a longer-lived process)."""
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    threads = cv2.getNumThreads()
    if cores and not args.all_cores:
        os.sched_setaffinity(0, {min(cores)})
    cv2.setNumThreads(1)
    try:
        return _bench(args)
    finally:
        if cores:
            os.sched_setaffinity(0, cores)
        cv2.setNumThreads(threads)


def _bench(args: argparse.Namespace) -> int:
    # One thread, no QR decoding, no staff cut: the figures time detection, expression and tracking alone.
    camera = section(CameraConfig, source="bench", threads=1, min_face_px=48, qr=False, idle_fps=0, active_fps=0)
    base = VisionSettings(camera=camera, mood=section(MoodConfig, max_dwell_s=None), detector=args.detector,
                          max_faces=10)
    model = args.model or base.expression_model
    if model is not None and not model.is_file():
        logger.warning("expression model %s missing: timing detection and tracking only", model)
        model = None
    settings = base.with_(expression_model=model)
    processor = FrameProcessor(settings)
    patch = _patch()
    figures: dict[str, Any] = {
        "cpu_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "detector": settings.detector_path.name,
        "expression_model": str(model) if model else None,
        "model_version": processor.model_version,
        "frame": f"{W}x{H}",
        "scenarios": {},
        "haar": {},
    }
    haar = FrameProcessor(settings, detector=HaarDetector(settings.camera.min_face_px), classifier=processor.classifier or False)
    try:
        with tempfile.TemporaryDirectory(prefix="moodkiosk-bench-") as tmp:
            for faces in (0, 1, 5):
                clip = Path(tmp) / f"faces{faces}.mp4"
                _write_clip(_frames(faces, args.frames, patch), clip)
                _reset(processor, settings)
                figures["scenarios"][str(faces)] = _run(processor, clip)
                _reset(haar, settings)
                figures["haar"][str(faces)] = _run(haar, clip)
            figures["qr"] = _qr_figures(patch)
            if not args.no_rss:
                figures["analyze_peak_rss_mb"] = round(_analyze_rss(Path(tmp) / "faces5.mp4", model), 1)
    finally:
        processor.close()
    figures["bench_peak_rss_mb"] = round(peak_rss_mb(), 1)
    ratios = {}
    for key, ours in figures["scenarios"].items():
        ref = figures["haar"][key]
        ratios[key] = {
            "detect": round(ref["ms"]["detect"] / max(ours["ms"]["detect"], 1e-6), 1),
            "detect_classify_track": round(ref["ms_detect_classify_track"] / max(ours["ms_detect_classify_track"], 1e-6), 1),
        }
    figures["haar_over_blazeface"] = ratios
    print(json.dumps(figures, indent=2) if args.json else _table(figures))
    return 0


def _table(fig: dict[str, Any]) -> str:
    lines = [
        f"moodkiosk bench: {fig['frame']} frames, {fig['cpu_cores']} core(s), detector {fig['detector']}, "
        f"expression {fig['model_version']}",
        "",
        f"{'run':14s} {'faces':>5s} " + " ".join(f"{s:>8s}" for s in STAGES) + f" {'det+cls+trk':>11s} {'p95':>6s} {'fps':>6s}",
    ]
    for name, block in (("blazeface", fig["scenarios"]), ("haar cascade", fig["haar"])):
        for key, r in block.items():
            stages = " ".join(f"{r['ms'][s]:8.2f}" for s in STAGES)
            lines.append(
                f"{name:14s} {key:>5s} {stages} {r['ms_detect_classify_track']:11.2f} "
                f"{r['ms_p95_detect_classify_track']:6.2f} {r['fps']:6.1f}   (found {r['faces_found_median']:g})"
            )
    lines.append("")
    for key, r in fig["haar_over_blazeface"].items():
        lines.append(f"haar / blazeface, {key} face(s): detect {r['detect']}x, detect+classify+track {r['detect_classify_track']}x")
    if "qr" in fig:
        q = fig["qr"]
        lines.append(f"QR decode: {q['ms_per_decode']} ms ({'ok' if q['decoded'] else 'NOT decoded'}), "
                     f"every {q['every_n']}th frame = {q['ms_per_frame']} ms per frame")
    if "analyze_peak_rss_mb" in fig:
        lines.append(f"peak RSS: moodkiosk analyze {fig['analyze_peak_rss_mb']} MB, this bench {fig['bench_peak_rss_mb']} MB")
    return "\n".join(lines)
