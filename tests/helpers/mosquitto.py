"""A real Mosquitto broker for tests: generated config, free loopback port, kill -9 and restart on the same port."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


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


class MosquittoBroker:
    """One mosquitto process with persistence off; `users` maps name -> password to require a login."""

    def __init__(self, workdir: Path | None = None, users: dict[str, str] | None = None) -> None:
        if not os.path.exists(MOSQUITTO):
            pytest.skip(f"MOSQUITTO MISSING: {MOSQUITTO} not found; run scripts/setup.sh dev")
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="mk-mosq-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.users = users
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.dir / "mosquitto.log"
        self._write_config()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            # Unlimited queues: a collector that is busy must not make the broker drop QoS 1 windows.
            "max_queued_messages 0",
            "max_inflight_messages 0",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # keep root: the 'mosquitto' user could not read pytest's private tmp dirs
        if self.users:
            pw = self.dir / "passwords"
            pw.write_text("")
            for name, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), name, password], check=True, capture_output=True)
            os.chmod(pw, 0o600)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines += ["allow_anonymous true"]
        (self.dir / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def start(self) -> "MosquittoBroker":
        """Start (or restart after kill) on the same port and wait until it accepts connections."""
        log = open(self.log_path, "ab")
        cmd = [MOSQUITTO, "-c", str(self.dir / "mosquitto.conf")]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                wait_for_port(self.port, timeout=0.5)
                return self
            except TimeoutError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not start: {self.log_path.read_text()[-500:]}") from None

    def kill(self) -> None:
        """kill -9: no Last Will cleanup, no goodbye, exactly like a crash."""
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


@pytest.fixture
def mosquitto(tmp_path: Path):
    """A started broker for one test; always stopped afterwards."""
    broker = MosquittoBroker(tmp_path / "mosquitto").start()
    try:
        yield broker
    finally:
        broker.stop()
