"""PostgreSQL credentials the libpq way (docs/INSTALL.md): a service file named in the environment, no
password in the URL; `pg_dump` with the same service file is the documented backup."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from central.store import open_store
from helpers.postgres import postgres_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(120)


def test_service_file_opens_the_store_and_pg_dump_backs_it_up(tmp_path, postgres_server, monkeypatch):
    postgres_server.create_database("moodkiosk_svc")
    service = tmp_path / "pg_service.conf"
    service.write_text(f"[moodkiosk]\nhost=127.0.0.1\nport={postgres_server.port}\ndbname=moodkiosk_svc\nuser=postgres\n")
    monkeypatch.setenv("PGSERVICEFILE", str(service))
    store = open_store("postgresql:///?service=moodkiosk")  # what central.env passes as --db; it migrates
    store.close()
    dump = tmp_path / "central.dump"
    result = subprocess.run(["pg_dump", "--format=custom", "--file", str(dump), "service=moodkiosk"],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    listing = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True, text=True, timeout=60)
    assert "TABLE public windows" in listing.stdout
