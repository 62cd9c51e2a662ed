"""A real PostgreSQL server for tests: initdb in a temporary directory, a free loopback port, always stopped."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from helpers.mosquitto import free_port, wait_for_port

PG_BIN = Path(os.environ.get("MOODKIOSK_PG_BIN", "/usr/lib/postgresql/15/bin"))
RUN_AS = "nobody"  # PostgreSQL refuses to run as root


def _as_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", RUN_AS, "--", *cmd] if os.geteuid() == 0 else cmd


class PostgresServer:
    """initdb + postgres on 127.0.0.1:<free port>; `url` connects as the superuser `postgres`."""

    def __init__(self, fsync: bool = False) -> None:
        if not (PG_BIN / "postgres").exists():
            pytest.skip(f"POSTGRESQL MISSING: {PG_BIN}/postgres not found; run scripts/setup.sh dev")
        self.dir = Path(tempfile.mkdtemp(prefix="mk-pg-"))
        self.port = free_port()
        self.fsync = fsync
        self.proc: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            entry = pwd.getpwnam(RUN_AS)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            _as_user([str(PG_BIN / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust",
                      "-E", "UTF8", "--no-sync"]),
            check=True, capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> "PostgresServer":
        args = [str(PG_BIN / "postgres"), "-D", str(self.dir / "data"), "-p", str(self.port), "-k", str(self.dir),
                "-c", "listen_addresses=127.0.0.1", "-c", f"fsync={'on' if self.fsync else 'off'}",
                "-c", "shared_buffers=64MB"]
        log = open(self.dir / "postgres.log", "ab")
        self.proc = subprocess.Popen(_as_user(args), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for_port(self.port, timeout=30)
        deadline = time.monotonic() + 30
        import psycopg
        while True:  # the port opens before the server accepts logins
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError((self.dir / "postgres.log").read_text()[-800:]) from None
                time.sleep(0.1)

    def create_database(self, name: str) -> str:
        """A fresh empty database; returns its URL."""
        import psycopg
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # runuser forwards SIGTERM: smart shutdown
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server per test session (tests create their own databases in it)."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
