"""Throw-away local Mosquitto and PostgreSQL servers (temporary directory, free loopback port) for the
benchmark and the tests; nothing here is used in production."""
from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import contract
from central.errors import CentralError

log = logging.getLogger(__name__)

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
PG_BIN = Path(os.environ.get("MOODKIOSK_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_RUN_AS = "nobody"  # PostgreSQL refuses to run as root


class ServiceMissing(CentralError):
    """The Debian package of a local service is not installed."""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    """Return once something accepts TCP connections on host:port; raise TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.02)


class LocalMosquitto:
    """One mosquitto, persistence off unless `persistent`; `users` maps name -> password to require a login.
    `kill()` is a kill -9; `start()` again reuses the same port."""

    def __init__(self, workdir: Path | None = None, users: dict[str, str] | None = None,
                 persistent: bool = False) -> None:
        if not os.path.exists(MOSQUITTO):
            raise ServiceMissing(f"{MOSQUITTO} not found; install the Debian package mosquitto (scripts/setup.sh dev)")
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="mk-mosq-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.users = users
        self.persistent = persistent  # as deployed: queues saved on shutdown and every 60 s (autosave_interval)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.dir / "mosquitto.log"
        self._write_config()

    @property
    def url(self) -> str:
        return contract.BrokerUrl("127.0.0.1", self.port, tls=False).url

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            *(["persistence true", f"persistence_location {self.dir}/", "autosave_interval 60"] if self.persistent
              else ["persistence false"]),
            # Unlimited queues: a busy collector must not make the broker drop QoS 1 windows.
            "max_queued_messages 0",
            "max_inflight_messages 0",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # keep root: the 'mosquitto' user could not read private tmp dirs
        if self.users:
            pw = self.dir / "passwords"
            pw.write_text("")
            os.chmod(pw, 0o600)
            for name, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), name, password], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines += ["allow_anonymous true"]
        (self.dir / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def start(self) -> "LocalMosquitto":
        """Start (or restart after kill) on the same port and wait until it accepts connections."""
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.dir / "mosquitto.conf")], stdout=out,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                wait_for_port(self.port, timeout=0.5)
                return self
            except TimeoutError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise CentralError(f"mosquitto did not start: {self.log_path.read_text()[-500:]}") from None

    def kill(self) -> None:
        """kill -9: no goodbye, exactly like a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None


def _as_pg_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", PG_RUN_AS, "--", *cmd] if os.geteuid() == 0 else cmd


class LocalPostgres:
    """initdb + postgres on 127.0.0.1:<free port> in a temporary directory; `url` connects as `postgres`."""

    def __init__(self, fsync: bool = True) -> None:
        if not (PG_BIN / "postgres").exists():
            raise ServiceMissing(f"{PG_BIN}/postgres not found; install the Debian package postgresql "
                                 "(scripts/setup.sh dev)")
        self.dir = Path(tempfile.mkdtemp(prefix="mk-pg-"))
        self.port = free_port()
        self.fsync = fsync
        self.proc: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_RUN_AS)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            _as_pg_user([str(PG_BIN / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust",
                         "-E", "UTF8", "--no-sync"]),
            check=True, capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> "LocalPostgres":
        import psycopg

        args = [str(PG_BIN / "postgres"), "-D", str(self.dir / "data"), "-p", str(self.port), "-k", str(self.dir),
                "-c", "listen_addresses=127.0.0.1", "-c", f"fsync={'on' if self.fsync else 'off'}",
                "-c", "shared_buffers=64MB"]
        with open(self.dir / "postgres.log", "ab") as out:
            self.proc = subprocess.Popen(_as_pg_user(args), stdout=out, stderr=subprocess.STDOUT)
        wait_for_port(self.port, timeout=30)
        deadline = time.monotonic() + 30
        while True:  # the port opens before the server accepts logins
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise CentralError((self.dir / "postgres.log").read_text()[-800:]) from None
                time.sleep(0.1)

    def create_database(self, name: str) -> str:
        """A fresh empty database; returns its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop_server(self) -> None:
        """Stop the server (fast shutdown: clients are disconnected) but keep its data; start() restarts it."""
        if self.proc and self.proc.poll() is None:
            subprocess.run(_as_pg_user([str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.dir / "data"), "-m", "fast",
                                        "-w", "-t", "30"]), capture_output=True, check=False)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        self.stop_server()
        shutil.rmtree(self.dir, ignore_errors=True)
