"""`moodkiosk bench-kiosk-cpu`: the kiosk process's CPU on the attract screen with the camera running, with the
adaptive detection rate on and off, in alternating runs of one invocation (the machine's other load hits both).

Each run is a fresh kiosk process (demo loyalty data, no broker) on the given camera source; after a warm-up
it measures its own CPU time (all threads, user + system) over a fixed wall-clock span and the frames the
vision worker processed, and prints one JSON line the parent collects.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kiosk.errors import KioskError

TARGET_PCT = 15.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=30.0, help="measured span per run (default 30)")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds after start before measuring (default 8)")
    parser.add_argument("--rounds", type=int, default=1, help="adaptive/fixed pairs, alternating (default 1)")
    parser.add_argument("--camera", default=None,
                        help='one camera source instead of the two scenes: "demo" (the bundled clip, people in view '
                             'all the time) and a generated empty shop floor (nobody in view)')
    parser.add_argument("--idle-fps", type=float, default=None,
                        help="adaptive run's idle rate (default: the config default)")
    parser.add_argument("--child", choices=("adaptive", "fixed"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--realtime-file", action="store_true", help=argparse.SUPPRESS)


def main(args: argparse.Namespace) -> int:
    if args.child:
        return _child(args)
    if args.seconds <= 0 or args.warmup < 0 or args.rounds < 1:
        raise KioskError("--seconds must be > 0, --warmup >= 0 and --rounds >= 1")
    with tempfile.TemporaryDirectory(prefix="moodkiosk-cpu-") as data_dir:
        if args.camera:
            scenes = {args.camera: (args.camera, False)}
        else:
            empty = empty_scene_clip(Path(data_dir) / "empty-shop.mp4", args.warmup + args.seconds + 20)
            scenes = {"demo clip, people in view": ("demo", False), "empty shop floor, nobody in view": (str(empty), True)}
        print(f"kiosk CPU on the attract screen: {args.seconds:g} s measured after {args.warmup:g} s warm-up, "
              f"{args.rounds} round(s) each, camera at 15 fps")
        worst_adaptive = 0.0
        for scene, (source, realtime) in scenes.items():
            results: dict[str, list[dict[str, float]]] = {"adaptive": [], "fixed": []}
            for round_ in range(args.rounds):
                order = ("adaptive", "fixed") if round_ % 2 == 0 else ("fixed", "adaptive")
                for mode in order:
                    results[mode].append(_run_child(args, mode, data_dir, source, realtime))
            print(f"  {scene} (Qt platform {results['fixed'][0]['platform']}):")
            for mode in ("adaptive", "fixed"):
                runs = results[mode]
                cpu = statistics.median(r["cpu_pct"] for r in runs)
                fps = statistics.median(r["processed_fps"] for r in runs)
                idle = statistics.median(r["idle_share"] for r in runs)
                print(f"    {mode:8s} {cpu:5.1f} % of one core  ({fps:4.1f} frames/s processed, at the idle rate "
                      f"{idle * 100:3.0f} % of the time; runs: {', '.join(format(r['cpu_pct'], '.1f') for r in runs)} %)")
            adaptive = statistics.median(r["cpu_pct"] for r in results["adaptive"])
            fixed = statistics.median(r["cpu_pct"] for r in results["fixed"])
            worst_adaptive = max(worst_adaptive, adaptive)
            print(f"    adaptive / fixed = {adaptive / fixed:.2f}")
    verdict = "met" if worst_adaptive <= TARGET_PCT else "NOT met"
    print(f"  target <= {TARGET_PCT:g} % of one core with the adaptive rate: {verdict} (worst scene {worst_adaptive:.1f} %)")
    return 0


def empty_scene_clip(path: Path, seconds: float, fps: float = 15.0) -> Path:
    """A camera's view of an empty shop floor: a still scene with sensor noise and slow light changes."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(7)
    h, w = 480, 640
    ys, xs = np.mgrid[0:h, 0:w]
    base = np.stack([90 + 60 * xs / w, 100 + 50 * ys / h, 120 + 30 * (xs + ys) / (w + h)], axis=-1)
    cv2.rectangle(base, (60, 200), (250, 470), (60, 80, 120), -1)  # shelves
    cv2.rectangle(base, (400, 150), (600, 470), (140, 120, 70), -1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise KioskError(f"cannot write the empty-scene clip {path}")
    for i in range(int(seconds * fps)):
        light = 1.0 + 0.05 * np.sin(i / fps / 3)
        frame = np.clip(base * light + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
        writer.write(frame)
    writer.release()
    return path


def _run_child(args: argparse.Namespace, mode: str, data_dir: str, source: str, realtime: bool) -> dict[str, float]:
    command = [sys.executable, "-m", "kiosk", "bench-kiosk-cpu", "--child", mode, "--seconds", str(args.seconds),
               "--warmup", str(args.warmup), "--camera", source, "--log-level", "WARNING"]
    if realtime:
        command.append("--realtime-file")
    if args.idle_fps is not None:
        command += ["--idle-fps", str(args.idle_fps)]
    env = dict(os.environ, MOODKIOSK_DATA_DIR=data_dir)
    env.setdefault("MOODKIOSK_CARD_HASH_KEY", "bench-kiosk-cpu-key-0123456789")
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    done = subprocess.run(command, capture_output=True, text=True, env=env,
                          timeout=args.warmup + args.seconds + 120, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise KioskError(f"the {mode} kiosk run failed (exit {done.returncode}): {tail}")
    return json.loads(lines[-1])


def _child(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QTimer

    from kiosk.app import KioskApp
    from kiosk.config import demo_config

    camera: dict[str, object] = {"source": args.camera or "demo"}
    if args.child == "fixed":  # every frame the camera delivers, as before the adaptive rate
        camera["idle_fps"] = 0.0
        camera["active_fps"] = 0.0
    elif args.idle_fps is not None:
        camera["idle_fps"] = args.idle_fps
    config = demo_config(camera=camera)
    vision = None
    if args.realtime_file:  # a video file played at its frame rate, like a live camera
        from kiosk.app import vision_settings

        vision = vision_settings(config).with_(realtime_files=True)
    app = KioskApp(config, fullscreen=False, size=(1920, 1080), vision=vision)
    marks: dict[str, float] = {}
    idle_samples: list[int] = []

    def begin() -> None:
        marks.update(cpu=time.process_time(), wall=time.perf_counter(), frames=_frames(app))

    def sample() -> None:
        if "cpu" in marks and app.vision is not None:
            idle_samples.append(int(app.vision.idle))

    def end() -> None:
        marks.update(cpu_end=time.process_time(), wall_end=time.perf_counter(), frames_end=_frames(app))
        app.qt.quit()

    QTimer.singleShot(round(args.warmup * 1000), begin)
    QTimer.singleShot(round((args.warmup + args.seconds) * 1000), end)
    sampler = QTimer()
    sampler.timeout.connect(sample)
    sampler.start(500)
    app.run(measure_stalls=False)
    sampler.stop()
    if "cpu_end" not in marks:
        raise KioskError("the kiosk stopped before the measurement ended")
    wall = marks["wall_end"] - marks["wall"]
    print(json.dumps({
        "mode": args.child,
        "platform": app.qt.platformName(),
        "cpu_pct": round(100.0 * (marks["cpu_end"] - marks["cpu"]) / wall, 2),
        "processed_fps": round((marks["frames_end"] - marks["frames"]) / wall, 2),
        "idle_share": round(sum(idle_samples) / len(idle_samples), 3) if idle_samples else 0.0,
        "camera": "off" if app.vision is None else "on",
    }), flush=True)
    return 0


def _frames(app: object) -> float:
    vision = getattr(app, "vision", None)
    return float(vision.health()["frames"]) if vision is not None else 0.0
