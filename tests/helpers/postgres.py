"""A real PostgreSQL server for tests (devtools.devservices.LocalPostgres), skipped loudly when missing."""
from __future__ import annotations

import pytest

from devtools.devservices import LocalPostgres, ServiceMissing

__all__ = ["PostgresServer", "postgres_server"]


class PostgresServer(LocalPostgres):
    """initdb in a temporary directory, postgres on a free loopback port (run as `nobody` when root)."""

    def __init__(self, fsync: bool = False) -> None:
        try:
            super().__init__(fsync=fsync)
        except ServiceMissing as exc:
            pytest.skip(f"POSTGRESQL MISSING: {exc}")


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server per test session (tests create their own databases in it)."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
