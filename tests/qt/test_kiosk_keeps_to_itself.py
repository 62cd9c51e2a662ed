"""The kiosk keeps its data to itself: data folder 0700 and files 0600 under a permissive umask, no
third-party telemetry, and with the demo camera and telemetry on, network connections only to the broker."""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import vision.no_telemetry

from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


def test_kiosk_files_are_private_and_it_talks_only_to_its_broker(mosquitto: MosquittoBroker,  # noqa: F811
                                                                  tmp_path: Path) -> None:
    data, home, audit, syscalls = tmp_path / "data", tmp_path / "home", tmp_path / "audit.jsonl", tmp_path / "st.txt"
    home.mkdir()
    config = tmp_path / "kiosk.toml"
    config.write_text(f'store_id = "s1"\nkiosk_id = "k1"\ndata_dir = "{data}"\n'
                      f'[camera]\nsource = "demo"\n[mood]\nwindow_seconds = 5\nk_anonymity = 1\n'
                      f'[loyalty]\nseed_demo_data = true\n'
                      f'[mqtt]\nenabled = true\nurl = "mqtt://127.0.0.1:{mosquitto.port}"\nhealth_interval_s = 5\n'
                      f'[ui]\nfullscreen = false\n', encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
               MOODKIOSK_AUDIT_LOG=str(audit), MOODKIOSK_CARD_HASH_KEY="audit-test-key-0123456789abcdef",
               PYTHONPATH=str(REPO / "tests"))
    env.pop("MOODKIOSK_DATA_DIR", None)
    command = [sys.executable, str(REPO / "tests/helpers/audit_run.py"), "run", "--config", str(config),
               "--duration", "7"]
    strace = shutil.which("strace")
    if strace:  # every connect()/bind() of the process and its threads, C libraries included (DNS lookups too)
        command = [strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,getsockname", "-o", str(syscalls), *command]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=100,
                            preexec_fn=lambda: os.umask(0))  # the most permissive umask
    assert result.returncode == 0, result.stderr[-3000:]
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [data, *data.rglob("*")]}
    assert modes["data"] == 0o700 and modes["data/loyalty.sqlite"] == 0o600 and modes["data/spool.sqlite"] == 0o600
    loose = {name: oct(mode) for name, mode in modes.items()
             if (Path(tmp_path / name).is_dir() and mode & 0o077) or (Path(tmp_path / name).is_file() and mode & 0o077)}
    events = [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() else []
    connects = [e for e in events if e["event"] == "socket.connect"]
    elsewhere = [e for e in events if e["event"] != "socket.connect" or str(mosquitto.port) not in e["args"][-1]]
    lookups = [e for e in events if e["event"].startswith("socket.get")]
    cache = sorted(p.relative_to(home).as_posix() for p in home.rglob("*"))
    # From strace: IP connects must go to the broker or to a port the process bound itself (paho's wake-up
    # socket pair); no connect to port 53 (a DNS lookup in C code would show here, the audit hook misses it).
    trace = syscalls.read_text() if strace else ""
    bound = set(re.findall(r"getsockname\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\)", trace))
    blackhole = vision.no_telemetry.BLACKHOLE_PROXY.rsplit(":", 1)[1]  # MediaPipe's usage-log client, refused
    ip_connects = re.findall(r"connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\).*?addr[^\"]*\"([^\"]+)\"",
                             trace)
    foreign = [(port, host) for port, host in ip_connects
               if port not in bound and port != str(mosquitto.port) and not (port == blackhole and host == "127.0.0.1")]
    unix = sorted(set(re.findall(r'connect\(\d+, \{sa_family=AF_UNIX, sun_path=([^}]*)\}', trace)))
    print(f"\n[privacy] files: {modes}; outgoing connections: {len(connects)} (to the broker "
          f"{len(connects) - len([e for e in elsewhere if e['event'] == 'socket.connect'])}); other network calls: "
          f"{elsewhere}; files under HOME: {cache}; strace: {len(ip_connects)} IP connects "
          f"({'none' if not foreign else foreign} elsewhere), local sockets {unix}")
    assert loose == {}
    # Python-level connects: the broker, and paho's wake-up socket pair on loopback (its port is checked
    # against the process's own sockets in the strace part below)
    assert any(f"'127.0.0.1', {mosquitto.port})" in e["args"][-1] for e in connects), connects
    assert all(e["args"][-1].startswith("('127.0.0.1', ") for e in connects), connects
    assert all(e["args"][0] in ("127.0.0.1", "localhost") for e in lookups), lookups
    assert not [p for p in cache if "onnxruntime" in p.lower() or "telemetry" in p.lower()], cache
    if strace:
        assert foreign == [], foreign
        # the run was long enough to see what it guards against: MediaPipe's usage-log client tried (and was
        # refused by the closed local proxy) instead of looking up a Google host
        assert (blackhole, "127.0.0.1") in ip_connects, ip_connects
