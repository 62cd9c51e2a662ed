"""A real Mosquitto broker for tests (devtools.devservices.LocalMosquitto), skipped loudly when missing."""
from __future__ import annotations

from pathlib import Path

import pytest

from devtools.devservices import LocalMosquitto, ServiceMissing, free_port, wait_for_port

__all__ = ["MosquittoBroker", "free_port", "mosquitto", "wait_for_port"]


class MosquittoBroker(LocalMosquitto):
    """Generated config, free loopback port, persistence off unless asked; kill() is kill -9, start() restarts on the port."""

    def __init__(self, workdir: Path | None = None, users: dict[str, str] | None = None,
                 persistent: bool = False) -> None:
        try:
            super().__init__(workdir, users, persistent)
        except ServiceMissing as exc:
            pytest.skip(f"MOSQUITTO MISSING: {exc}")


@pytest.fixture
def mosquitto(tmp_path: Path):
    """A started broker for one test; always stopped afterwards."""
    broker = MosquittoBroker(tmp_path / "mosquitto").start()
    try:
        yield broker
    finally:
        broker.stop()
