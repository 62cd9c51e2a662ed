"""`moodkiosk bench-central`: 1,000 simulated kiosks publish through a real Mosquitto into the collector;
prints ingest windows/s per database and window-published -> seen-on-the-dashboard's-SSE latency."""
from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import contract
from devtools.loadgen import publish_windows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchResult:
    """One database's figures."""

    db: str
    kiosks: int
    connections: int
    ingest_processes: int
    windows: int
    stored: int
    lost: int
    duplicates: int
    publish_rate: float  # windows/s the simulated kiosks got PUBACKs for
    ingest_rate: float  # windows/s from the first publish to the last window committed (publishers running)
    drain_rate: float  # windows/s committed when the collector reconnects to a backlog queued at the broker
    burst_latency_p95_ms: float  # publish -> SSE while ingesting flat out (queueing included)
    latency_windows: int
    latency_rate: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    kiosk_path_windows: int  # windows sent by a real kiosk TelemetryPublisher (spool with fsync, then MQTT)
    kiosk_path_p50_ms: float  # submit_window() -> seen on the dashboard's SSE stream
    kiosk_path_p95_ms: float


def _broker_url(text: str) -> str:
    """--mqtt checked by the contract's one broker URL parser (a bad one is one line, exit 2)."""
    try:
        return contract.parse_broker_url(text).url
    except contract.BrokerUrlError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kiosks", type=int, default=1000, help="simulated kiosks (100 stores x 10 kiosks by default)")
    parser.add_argument("--windows-per-kiosk", type=int, default=20, help="windows each kiosk sends in the ingest run")
    parser.add_argument("--processes", type=int, default=1,
                        help="load-generator processes (each kiosk has its own MQTT connection in one of them)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--mqtt", default=None, type=_broker_url,
                        help="broker URL, mqtt://host[:port]; default: start a private mosquitto")
    parser.add_argument("--pg-url", default=None, help="PostgreSQL server URL (an empty database is created in it); "
                        "default: start a temporary PostgreSQL (fsync on)")
    parser.add_argument("--latency-rate", type=float, default=200.0, help="windows/s in the paced latency run")
    parser.add_argument("--latency-seconds", type=float, default=5.0, help="length of the paced latency run")
    parser.add_argument("--kiosk-path-windows", type=int, default=100,
                        help="windows a real kiosk TelemetryPublisher sends (10/s) for the full-path latency")
    parser.add_argument("--ingest-processes", type=int, default=None, metavar="N",
                        help="collector processes, as `moodkiosk central --ingest-processes` (default: CPU count, max 4)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


# ---- the collector side --------------------------------------------------------------------------------

def _sse_clock_main(base: str, token: str, commands: Any, out: Any) -> None:
    """In its own process (like a browser, not competing with the collector for the GIL): read the SSE
    stream, note when each window was first seen, answer "dump" with the notes so far."""
    import httpx

    seen: dict[tuple[str, str, int], float] = {}
    lock = threading.Lock()
    ready = threading.Event()

    def read() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, timeout=httpx.Timeout(10, read=None)) as client:
            with client.stream("GET", "/api/events", headers=headers) as response:
                ready.set()
                event = None
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "windows":
                        now = time.time()
                        with lock:
                            for w in json.loads(line[6:]):
                                seen.setdefault((w["store"], w["kiosk"], w["seq"]), now)

    threading.Thread(target=read, daemon=True).start()
    ready.wait(20)
    out.put("ready")
    while True:
        command = commands.get()
        with lock:
            out.put(dict(seen))
        if command == "exit":
            return


class _SseClock:
    """The parent's handle on the SSE-reading process."""

    def __init__(self, ctx: Any, base: str, token: str) -> None:
        self._commands, self._out = ctx.Queue(), ctx.Queue()
        self._proc = ctx.Process(target=_sse_clock_main, args=(base, token, self._commands, self._out), daemon=True)
        self._proc.start()
        if self._out.get(timeout=60) != "ready":
            raise RuntimeError("SSE reader did not start")

    def snapshot(self) -> dict[tuple[str, str, int], float]:
        self._commands.put("dump")
        return self._out.get(timeout=60)

    def wait_for(self, keys: Any, timeout: float) -> dict[tuple[str, str, int], float]:
        """Poll (twice a second, cheap for the collector) until every key was seen or timeout."""
        deadline = time.time() + timeout
        while True:
            seen = self.snapshot()
            if all(k in seen for k in keys) or time.time() > deadline:
                return seen
            time.sleep(0.5)

    def close(self) -> None:
        self._commands.put("exit")
        try:
            self._out.get(timeout=10)
        finally:
            self._proc.join(5)
            if self._proc.is_alive():
                self._proc.kill()


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _run_publishers(ctx: Any, host: str, port: int, n_kiosks: int, seqs: list[int], processes: int,
                    rate: float) -> tuple[int, float, float, dict[tuple[str, str, int], float]]:
    """Simulated kiosks (devtools.loadgen) in their own processes; returns (acked, first publish t,
    last PUBACK t, publish time per window). Raises when the broker refused any window."""
    go, out = ctx.Event(), ctx.Queue()
    procs = []
    for p in range(processes):
        kiosks = list(range(p, n_kiosks, processes))
        proc = ctx.Process(target=publish_windows, args=(host, port, kiosks, seqs, rate / processes, go, out))
        proc.start()
        procs.append(proc)
    for _ in procs:  # every kiosk connected and its payloads built before the clock starts
        if out.get(timeout=120) != "ready":
            raise RuntimeError("a load-generator process failed before it was ready")
    go.set()
    results = [out.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(10)
    failed = sum(r[1] for r in results)
    if failed:
        raise RuntimeError(f"the broker refused {failed} simulated windows (PUBACK reason code >= 0x80)")
    sent: dict[tuple[str, str, int], float] = {}
    for r in results:
        sent.update(r[4])
    return (sum(r[0] for r in results), min(r[2] for r in results), max(r[3] for r in results), sent)


def _bench_one(db: str, db_url: str, broker_url: str, args: argparse.Namespace, workdir: Path) -> BenchResult:
    import uvicorn

    from central.auth import UserDirectory
    from central.cli import default_ingest_processes
    from central.collector import CollectorSettings
    from central.collector_group import CollectorGroup
    from devtools.devservices import free_port, wait_for_port
    from central.store import open_store
    from central.web.app import create_app
    from central.web.events import EventHub
    from central.web.server import DashboardServer

    store = open_store(db_url)
    users = UserDirectory(workdir / f"users-{db}.json")
    users.set_user("bench", "bench-password", ["*"])
    token = users.new_token("bench")
    hub = EventHub()
    processes = args.ingest_processes or default_ingest_processes()
    settings = CollectorSettings(contract.parse_broker_url(broker_url), group=f"bench-{db}", client_id=f"bench-collector-{db}")
    collector = CollectorGroup(settings, db_url, store, processes, on_windows=hub.windows, on_kiosk=hub.kiosk)
    port = free_port()
    server = DashboardServer(uvicorn.Config(create_app(store, users, hub, stats=collector.snapshot),
                                            host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                            timeout_graceful_shutdown=1), hub)
    web = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    collector.start()
    web.start()
    wait_for_port(port, 20)
    broker = contract.parse_broker_url(broker_url)
    host, mqtt_port = broker.host, broker.port
    ctx = mp.get_context("spawn")
    sse = _SseClock(ctx, f"http://127.0.0.1:{port}", token)
    try:
        total = args.kiosks * args.windows_per_kiosk
        seqs = list(range(1, args.windows_per_kiosk + 1))
        log.info("%s: ingest run, %s kiosks x %s windows", db, args.kiosks, args.windows_per_kiosk)
        acked, t_first, t_acked, sent = _run_publishers(ctx, host, int(mqtt_port), args.kiosks, seqs,
                                                        args.processes, 0.0)
        deadline = time.time() + 120
        while collector.snapshot()["stored"] < total and time.time() < deadline:
            time.sleep(0.005)
        t_stored = time.time()
        stats = collector.snapshot()
        seen = sse.wait_for(sent, 30)
        burst = [(seen[k] - t) * 1000 for k, t in sent.items() if k in seen]

        # Backlog: the collector is away (its session and shared subscription persist at the broker), the
        # kiosks publish, the collector comes back: the drain rate is the collector's own ingest capacity,
        # without the simulated kiosks competing for the same CPU cores.
        collector.stop()
        drain_seqs = list(range(args.windows_per_kiosk + 1, 2 * args.windows_per_kiosk + 1))
        log.info("%s: backlog run, %s windows queued while the collector is away", db, len(drain_seqs) * args.kiosks)
        _run_publishers(ctx, host, int(mqtt_port), args.kiosks, drain_seqs, args.processes, 0.0)
        collector = CollectorGroup(settings, db_url, store, processes, on_windows=hub.windows, on_kiosk=hub.kiosk)
        before = store.count_windows()
        t_reconnect = time.time()
        collector.start()
        drain_total = len(drain_seqs) * args.kiosks
        deadline = time.time() + 120
        t10 = t90 = None  # sustained rate between 10 % and 90 % drained: process start-up left out
        while (stored_now := collector.snapshot()["stored"]) < drain_total and time.time() < deadline:
            if t10 is None and stored_now >= 0.1 * drain_total:
                t10 = time.time()
            if t90 is None and stored_now >= 0.9 * drain_total:
                t90 = time.time()
            time.sleep(0.005)
        t_end = time.time()
        t10, t90 = t10 or t_reconnect, t90 or t_end
        drain_rate = 0.8 * drain_total / max(1e-9, t90 - t10)
        log.info("%s: drained %s windows (%s before)", db, collector.snapshot()["stored"], before)

        n_lat = max(1, int(args.latency_rate * args.latency_seconds))
        per_kiosk = max(1, -(-n_lat // args.kiosks))
        lat_seqs = list(range(2 * args.windows_per_kiosk + 1, 2 * args.windows_per_kiosk + 1 + per_kiosk))
        log.info("%s: latency run, %s windows at %s/s", db, per_kiosk * args.kiosks, args.latency_rate)
        _, _, _, lat_sent = _run_publishers(ctx, host, int(mqtt_port), args.kiosks, lat_seqs, args.processes,
                                            args.latency_rate)
        seen = sse.wait_for(lat_sent, 30)
        latencies = [(seen[k] - t) * 1000 for k, t in lat_sent.items() if k in seen]
        kiosk_path = _kiosk_path(broker_url, sse, workdir / f"kiosk-spool-{db}.sqlite", args.kiosk_path_windows)
        final = collector.snapshot()
        expected = total + drain_total + len(lat_sent) + args.kiosk_path_windows
        stored_rows = store.count_windows()
        return BenchResult(
            db=db, kiosks=args.kiosks, connections=args.kiosks, ingest_processes=processes, windows=expected,
            stored=stored_rows, lost=expected - stored_rows, duplicates=stats["duplicates"] + final["duplicates"],
            publish_rate=round(acked / max(1e-9, t_acked - t_first), 1),
            ingest_rate=round(stats["stored"] / max(1e-9, t_stored - t_first), 1),
            drain_rate=round(drain_rate, 1),
            burst_latency_p95_ms=round(_percentile(burst, 0.95), 1),
            latency_windows=len(latencies), latency_rate=args.latency_rate,
            latency_p50_ms=round(_percentile(latencies, 0.5), 1),
            latency_p95_ms=round(_percentile(latencies, 0.95), 1),
            latency_p99_ms=round(_percentile(latencies, 0.99), 1),
            latency_max_ms=round(max(latencies) if latencies else float("nan"), 1),
            kiosk_path_windows=len(kiosk_path),
            kiosk_path_p50_ms=round(_percentile(kiosk_path, 0.5), 1),
            kiosk_path_p95_ms=round(_percentile(kiosk_path, 0.95), 1),
        )
    finally:
        sse.close()
        server.should_exit = True
        web.join(10)
        collector.stop()
        store.close()


def _kiosk_path(broker_url: str, sse: _SseClock, spool_path: Path, count: int, rate: float = 10.0) -> list[float]:
    """Latencies (ms) from a real kiosk publisher's submit_window() (spool write with fsync, QoS 1 publish)
    to the window appearing on the dashboard's SSE stream. The bench plays the kiosk here, so it borrows
    the kiosk's publisher; central itself never imports kiosk code."""
    from datetime import datetime, timedelta, timezone

    from kiosk.config import MqttConfig
    from kiosk.services.spool import Spool
    from kiosk.services.telemetry import TelemetryPublisher
    from vision.types import MoodWindow

    if count <= 0:
        return []
    spool = Spool(spool_path, 10_000)
    first_seq = spool.last_seq() + 1  # a fresh spool starts at the clock in ms
    publisher = TelemetryPublisher(MqttConfig(url=broker_url, health_interval_s=3600), "kpath", "k1", spool)
    publisher.start()
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    submitted: dict[tuple[str, str, int], float] = {}
    try:
        while publisher.state.connection != "connected" and len(submitted) == 0:
            time.sleep(0.01)
        for i in range(count):
            start = t0 + timedelta(minutes=i)
            submitted[("kpath", "k1", first_seq + i)] = time.time()
            publisher.submit_window(MoodWindow(start, start + timedelta(minutes=1), 5, {"happy": 3, "neutral": 2}, 0.6),
                                    {"happy": 1}, "bench")
            time.sleep(1.0 / rate)
        seen = sse.wait_for(submitted, 20)
    finally:
        publisher.stop()
    return [(seen[k] - t) * 1000 for k, t in submitted.items() if k in seen]


def _table(results: list[BenchResult]) -> str:
    rows = [("db", "kiosks", "conns", "collectors", "windows", "lost", "dup", "publish/s", "ingest/s", "drain/s", "burst p95 ms",
             "paced p50 ms", "paced p95 ms", "paced p99 ms", "kiosk p95 ms")]
    for r in results:
        rows.append((r.db, str(r.kiosks), str(r.connections), str(r.ingest_processes), str(r.windows), str(r.lost), str(r.duplicates),
                     f"{r.publish_rate:,.0f}", f"{r.ingest_rate:,.0f}", f"{r.drain_rate:,.0f}",
                     f"{r.burst_latency_p95_ms:,.0f}",
                     f"{r.latency_p50_ms:.1f}", f"{r.latency_p95_ms:.1f}", f"{r.latency_p99_ms:.1f}",
                     f"{r.kiosk_path_p95_ms:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows)


def main(args: argparse.Namespace) -> int:
    from devtools.devservices import LocalMosquitto, LocalPostgres

    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    workdir = Path(tempfile.mkdtemp(prefix="mk-bench-"))
    broker = None if args.mqtt else LocalMosquitto(workdir / "mosquitto").start()
    pg = None
    results = []
    try:
        broker_url = args.mqtt or broker.url  # type: ignore[union-attr]
        for db in backends:
            if db == "sqlite":
                db_url = f"sqlite:///{workdir / 'bench.db'}"
            else:
                if args.pg_url:
                    import psycopg

                    name = f"moodkiosk_bench_{int(time.time())}"
                    with psycopg.connect(args.pg_url, autocommit=True) as conn:
                        conn.execute(f'CREATE DATABASE "{name}"')
                    db_url = args.pg_url.rsplit("/", 1)[0] + "/" + name
                else:
                    pg = LocalPostgres(fsync=True).start()
                    db_url = pg.create_database("bench")
            results.append(_bench_one(db, db_url, broker_url, args, workdir))
    finally:
        if broker:
            broker.stop()
        if pg:
            pg.stop()
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        print(_table(results))
        print(f"ingest/s: windows stored per second from the first publish to the last commit "
              f"({args.kiosks} simulated kiosks, one MQTT 5 connection each, QoS 1).")
        print("drain/s: windows stored per second (10 % to 90 % of the backlog) when the collectors reconnect to a "
              "backlog queued at the broker (their own capacity, no publishers competing for the CPU).")
        print("collectors: collector processes in one shared-subscription group (`moodkiosk central --ingest-processes`).")
        print(f"paced: {args.latency_rate:.0f} windows/s; latency = publish -> window seen on the dashboard's SSE "
              "stream; burst = the same during the flat-out ingest run (queueing included).")
        print(f"kiosk: {args.kiosk_path_windows} windows from a real kiosk TelemetryPublisher at 10/s, "
              "submit_window() (spool + fsync + QoS 1) -> seen on the SSE stream.")
    return 0
