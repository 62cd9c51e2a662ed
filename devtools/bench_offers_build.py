"""`moodkiosk bench-offers-build`: the offer build at chain scale, embedded vs Spark local, side by side.

Replicates the shared Ta-Feng file (new member ids, hence new baskets; the same statistics) to at least
`--lines`, writes it as Parquet, and runs each engine in its own process while sampling the whole process
tree's resident memory (Spark: the JVM and its Python workers too). Every engine reads and checks every
line and learns the model from every line; the ranking is the snapshot of one store (`--store`, its
members' whole histories), so the per-member rate is measured, and the all-store build time is
extrapolated from it (printed as such). A smaller size (`--small-replicas`) runs too, for the scaling.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from central.offers_build.tafeng import BUILD_DATE, write_chain_files

TAFENG_LINES = 573_114
GIB = 1024 ** 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lines", type=int, default=20_000_000, help="at least this many lines (default 20 M)")
    parser.add_argument("--small-replicas", default="1", help="smaller sizes too, in copies of Ta-Feng, comma-separated "
                        "(default 1; 0: none), for the scaling")
    parser.add_argument("--spark-max-lines", type=int, default=None,
                        help="run Spark only on inputs up to this many lines (default: every size)")
    parser.add_argument("--store", default="store-106", help="the store whose snapshot is ranked (default store-106)")
    parser.add_argument("--engines", default="embedded,spark", help="comma-separated: embedded, spark")
    parser.add_argument("--work", type=Path, default=Path("/tmp/moodkiosk-offers-bench"), help="scratch directory")
    parser.add_argument("--memory-limit-gib", type=float, default=24.0, help="memory the largest-input estimate uses")
    parser.add_argument("--spark-driver-memory", default="6g", help="JVM heap of Spark's local driver (default 6g)")
    parser.add_argument("--timeout-s", type=float, default=None,
                        help="stop an engine's run after this many seconds and report it as not finished")


def _run(engine: str, files_dir: Path, store: str, driver_memory: str, timeout_s: float | None = None
         ) -> dict[str, float] | None:
    """One engine in a child process; its figures (JSON on stdout) plus the process tree's peak RSS; None when
    it ran past `timeout_s` (the process tree is stopped)."""
    env = dict(os.environ, MOODKIOSK_SPARK_DRIVER_MEMORY=driver_memory)
    child = subprocess.Popen(
        [sys.executable, "-m", "devtools.bench_offers_build_worker", engine, str(files_dir), store, BUILD_DATE.isoformat()],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
    )
    root = psutil.Process(child.pid)
    peak = 0
    started = time.perf_counter()
    while child.poll() is None:
        if timeout_s is not None and time.perf_counter() - started > timeout_s:
            for proc in [*root.children(recursive=True), root]:
                try:
                    proc.kill()
                except psutil.Error:
                    pass
            child.wait()
            print(f"{engine}: stopped after {timeout_s:.0f} s, not finished (peak RSS so far {peak / GIB:.2f} GiB)",
                  flush=True)
            return None
        total = 0
        try:
            for proc in [root, *root.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    continue
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.2)
    out = child.stdout.read() if child.stdout else ""
    if child.returncode != 0:
        raise SystemExit(f"bench-offers-build: {engine} failed (exit {child.returncode})")
    figures = json.loads(out.strip().splitlines()[-1])
    figures["peak_rss"] = peak
    return figures


def main(args: argparse.Namespace) -> int:
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    big = math.ceil(args.lines / TAFENG_LINES)
    small = [int(r) for r in str(args.small_replicas).split(",") if r.strip()]
    sizes = sorted({r for r in (*small, big) if r > 0})
    rows: list[tuple[int, str, dict[str, float]]] = []
    for replicas in sizes:
        folder = args.work / f"x{replicas}"
        started = time.perf_counter()
        files = write_chain_files(folder, replicas=replicas, fmt="parquet")
        print(f"input: {files.lines:,} lines ({replicas} x Ta-Feng) written in {time.perf_counter() - started:.0f} s "
              f"to {files.transactions}", flush=True)
        for engine in engines:
            if engine == "spark" and args.spark_max_lines is not None and files.lines > args.spark_max_lines:
                print(f"spark: skipped at {files.lines:,} lines (--spark-max-lines {args.spark_max_lines:,})", flush=True)
                continue
            figures = _run(engine, folder, args.store, args.spark_driver_memory, args.timeout_s)
            if figures is None:
                continue
            rows.append((replicas, engine, figures))
            print(json.dumps({"replicas": replicas, "engine": engine, **figures}), flush=True)
    print()
    print(f"{'lines':>12} {'engine':>9} {'read+learn s':>12} {'lines/s':>10} {'ranked':>8} {'rank s':>7} "
          f"{'members/s':>9} {'all members':>11} {'all-store build s (extrapolated)':>33} {'peak RSS GiB':>12}")
    for replicas, engine, f in rows:
        per_member = f["ranked_members"] / f["rank_s"] if f["rank_s"] else float("nan")
        full = f["learn_s"] + f["all_members"] / per_member
        print(f"{f['lines']:>12,} {engine:>9} {f['learn_s']:>12.1f} {f['lines'] / f['learn_s']:>10,.0f} "
              f"{f['ranked_members']:>8,} {f['rank_s']:>7.1f} {per_member:>9,.0f} {f['all_members']:>11,} "
              f"{full:>33,.0f} {f['peak_rss'] / GIB:>12.2f}")
    embedded = sorted((f["lines"], f["peak_rss"]) for _, e, f in rows if e == "embedded")
    if len(embedded) >= 2:
        (l0, m0), (l1, m1) = embedded[0], embedded[-1]
        per_line = (m1 - m0) / (l1 - l0)
        largest = (args.memory_limit_gib * GIB - (m0 - per_line * l0)) / per_line
        print(f"\nembedded memory: {per_line:.0f} bytes per line beyond {(m0 - per_line * l0) / GIB:.2f} GiB fixed; "
              f"largest input in {args.memory_limit_gib:g} GiB (extrapolated, ranking one store): ~{largest / 1e6:,.0f} M lines")
    return 0
