"""Several collectors on one host: the in-process one plus worker processes in the same shared-subscription group.

One collector is bound to one core by Python's GIL (~5,000 windows/s on a 2-core build machine), while the
broker splits a shared subscription over any number of members. So `moodkiosk central --ingest-processes N`
runs N-1 extra collector processes against the same broker group and database; the broker balances the
fleet between them and the database's unique key keeps each window once whichever process stores it. Each
worker forwards what it committed (windows, kiosk events, its counters) through a pipe to this process, whose
dashboard streams it live and whose /api/stats adds the counters up. Kiosk status (retained, a plain
subscription) is followed by the in-process collector only, so every online/offline change is stored once.
A worker that dies is restarted; what it had not acknowledged, the broker redelivers to the group.
"""
from __future__ import annotations

import dataclasses
import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from multiprocessing.connection import Connection, wait
from typing import Any, Callable

from central.collector import Collector, CollectorSettings, KioskEvent, merge_stats
from central.errors import CentralError
from central.records import WindowRecord
from central.store import Store, open_store

log = logging.getLogger(__name__)

STATS_INTERVAL_S = 1.0
RESTART_DELAY_S = 1.0
# Worker indexes probed at start for sessions left by a run with more processes (see retire_stale_sessions).
RETIRE_PROBE = 8
WORKER_HANG_S = 10.0  # a worker whose collector loops have not turned for this long counts as hung


def worker_settings(settings: CollectorSettings, index: int) -> CollectorSettings:
    """A worker's settings: its own client id (stable, so its broker session survives a restart), no status."""
    client_id = f"{settings.client_id}-w{index}" if settings.client_id else None
    return dataclasses.replace(settings, client_id=client_id, index=index, follow_status=False)


def _worker_main(settings: CollectorSettings, db_url: str, conn: Connection, stop: Any, log_level: int) -> None:
    """A worker process: one collector whose committed windows, events and counters go up the pipe.

    It ignores SIGINT/SIGTERM (Ctrl-C and systemd signal the whole process group) and stops when the parent
    says so, after storing and acknowledging what it holds; it also stops if the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = os.getppid()
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s[worker]: %(message)s")
    send_lock = threading.Lock()
    collector: Collector | None = None

    def send(message: tuple[Any, ...]) -> None:
        with send_lock:
            conn.send(message)

    def on_windows(records: list[WindowRecord]) -> None:
        send(("windows", records, collector.stats.snapshot() if collector else None))

    def on_kiosk(event: KioskEvent) -> None:
        send(("kiosk", event))

    try:
        store = open_store(db_url)
        collector = Collector(settings, store, on_windows=on_windows, on_kiosk=on_kiosk)
        collector.start()
    except CentralError as exc:
        send(("error", str(exc)))
        return
    send(("started", collector.stats.snapshot()))
    failed = False
    try:
        while not stop.wait(STATS_INTERVAL_S) and os.getppid() == parent:
            if collector.failure() is not None:  # exit non-zero: the parent restarts this worker
                failed = True
                send(("stats", collector.stats.snapshot()))
                break
            if collector.alive(WORKER_HANG_S):  # a hung collector goes quiet, so the parent's watchdog notices
                send(("stats", collector.stats.snapshot()))
    except (BrokenPipeError, OSError):
        pass  # the parent is gone; stop below
    finally:
        collector.stop()
        store.close()
        try:
            send(("stopped", collector.stats.snapshot()))
        except OSError:
            pass
    if failed:
        os._exit(1)


class _Worker:
    """The parent's handle on one worker process."""

    def __init__(self, ctx: Any, settings: CollectorSettings, db_url: str) -> None:
        self.settings = settings
        self.stop_event = ctx.Event()
        self.conn, child = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_worker_main, name=f"collector-{settings.client_id or 'worker'}",
                                   args=(settings, db_url, child, self.stop_event, logging.getLogger().level),
                                   daemon=True)
        self.process.start()
        child.close()
        self.stats: dict[str, Any] = {}
        self.heard = time.monotonic()  # the worker's latest message (it sends one a second while healthy)


class CollectorGroup:
    """The in-process collector plus ``processes - 1`` worker processes; start/stop/snapshot like a Collector."""

    def __init__(self, settings: CollectorSettings, db_url: str, store: Store, processes: int = 1,
                 on_windows: Callable[[list[WindowRecord]], None] | None = None,
                 on_kiosk: Callable[[KioskEvent], None] | None = None) -> None:
        if processes < 1:
            raise CentralError(f"--ingest-processes must be at least 1, got {processes}")
        self.settings = settings
        self._db_url = db_url
        self._on_windows = on_windows
        self._on_kiosk = on_kiosk
        self.collector = Collector(settings, store, on_windows=on_windows, on_kiosk=on_kiosk)
        self._ctx = mp.get_context("spawn")  # not fork: this process already runs threads
        self._workers: list[_Worker] = []
        self._extra = processes - 1
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self, connect_timeout: float = 30.0) -> None:
        """Start every collector; raise CentralError (and stop those started) if any cannot connect."""
        self.collector.start()
        self._workers = [_Worker(self._ctx, worker_settings(self.settings, i + 1), self._db_url)
                         for i in range(self._extra)]
        try:
            for worker in self._workers:
                self._await_start(worker, connect_timeout)
        except BaseException:
            self.stop()
            raise
        self._reader = threading.Thread(target=self._read_loop, name="collector-group", daemon=True)
        self._reader.start()
        self.retire_stale_sessions()

    def retire_stale_sessions(self) -> int:
        """Client ids are stable per worker index, so a run with fewer processes than the last one leaves the
        extra workers' sessions on the broker, each still a member of the shared group and taking its share
        of the windows until the session expires. Each index up to RETIRE_PROBE past the current ones is
        resumed once: what its session holds is stored, then the session is ended. Returns windows stored."""
        stored = 0
        for index in range(self._extra + 1, self._extra + 1 + RETIRE_PROBE):
            try:
                stale = Collector(worker_settings(self.settings, index), self.collector.store,
                                  on_windows=self._on_windows, on_kiosk=self._on_kiosk)
                stored += stale.retire()
            except CentralError as exc:
                log.warning("could not check for a stale session of worker %s: %s", index, exc)
        return stored

    def _await_start(self, worker: _Worker, timeout: float) -> None:
        if not worker.conn.poll(timeout):
            raise CentralError(f"collector worker {worker.settings.client_id or ''} did not start within {timeout:.0f} s")
        try:
            message = worker.conn.recv()
        except EOFError:
            raise CentralError(f"collector worker exited at start (exit code {worker.process.exitcode})") from None
        if message[0] == "error":
            raise CentralError(message[1])
        worker.stats = message[1]

    def _read_loop(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                conns = {w.conn: w for w in self._workers}
            for conn in wait(list(conns), timeout=0.5):
                worker = conns[conn]
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    self._restart(worker)
                    continue
                self._handle(worker, message)

    def _handle(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        worker.heard = time.monotonic()
        if kind == "windows":
            if message[2] is not None:
                worker.stats = message[2]
            if self._on_windows is not None:
                self._on_windows(message[1])
        elif kind == "kiosk":
            if self._on_kiosk is not None:
                self._on_kiosk(message[1])
        elif kind in ("stats", "stopped"):
            worker.stats = message[1]

    def _restart(self, worker: _Worker) -> None:
        if self._stopping.is_set():
            return
        worker.process.join(1)
        log.error("collector worker %s exited (code %s); restarting it in %.0f s", worker.settings.client_id or "",
                  worker.process.exitcode, RESTART_DELAY_S)
        if self._stopping.wait(RESTART_DELAY_S):
            return
        fresh = _Worker(self._ctx, worker.settings, self._db_url)
        fresh.stats = worker.stats  # keep counting from where it was (its own counters restart at zero)
        with self._lock:
            self._workers[self._workers.index(worker)] = fresh
        try:
            self._await_start(fresh, 30.0)
        except CentralError as exc:
            log.error("collector worker did not come back: %s", exc)

    def snapshot(self) -> dict[str, Any]:
        """The counters of every collector added up (what /api/stats and the log show)."""
        with self._lock:
            workers = [w.stats for w in self._workers]
        return merge_stats([self.collector.stats.snapshot(), *workers])

    def failure(self) -> str | None:
        """Why this process must be restarted (its own collector's loop or writer ended), else None.
        A failed worker is restarted here instead; it shows in /api/stats meanwhile."""
        return self.collector.failure()
    def alive(self, max_age_s: float) -> bool:
        """For the service watchdog: the in-process collector's loops turn, and every worker was heard from
        lately (a restarting worker counts as alive: the group brings it back by itself)."""
        now = time.monotonic()
        with self._lock:
            workers = list(self._workers)
        quiet = [w for w in workers if w.process.is_alive() and now - w.heard > max(max_age_s, WORKER_HANG_S + 5)]
        return self.collector.alive(max_age_s) and not quiet

    @property
    def processes(self) -> int:
        return 1 + len(self._workers)

    def stop(self) -> None:
        """Stop the workers (each stores and acknowledges what it holds) and the in-process collector."""
        self._stopping.set()
        if self._reader is not None:
            self._reader.join(5)
        for worker in self._workers:
            worker.stop_event.set()
        deadline = time.monotonic() + 20
        for worker in self._workers:
            while worker.process.is_alive() and time.monotonic() < deadline:
                try:
                    if worker.conn.poll(0.1):
                        self._handle(worker, worker.conn.recv())
                except (EOFError, OSError):
                    break
            worker.process.join(max(0.1, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
        self.collector.stop()
