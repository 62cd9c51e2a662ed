"""Dashboard API over real HTTP: login and tokens, a store manager sees only their store (REST and SSE)."""
from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import httpx
import pytest

from helpers.central import PASSWORD, CentralServer, central, wait_until  # noqa: F401  (central: fixture)
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)
from helpers.windows import T0, mood_document, window
from kiosk.config import MqttConfig
from kiosk.services.spool import Spool
from kiosk.services.telemetry import TelemetryPublisher

pytestmark = pytest.mark.timeout(90)



def _login(base: str, user: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10)
    response = client.post("/api/login", json={"username": user, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


def _publisher(url: str, store: str, kiosk: str, tmp_path: Path) -> TelemetryPublisher:
    publisher = TelemetryPublisher(MqttConfig(url=url, health_interval_s=3600), store, kiosk,
                                   Spool(tmp_path / f"spool-{store}-{kiosk}.sqlite", 100))
    publisher.start()
    return publisher


def _sse_reader(base: str, headers: dict[str, str], out: queue.Queue, stop: threading.Event) -> None:
    """Read /api/events and put (event, data) tuples on `out` until `stop`."""
    with httpx.Client(base_url=base, timeout=httpx.Timeout(10, read=20)) as client:
        with client.stream("GET", "/api/events", headers=headers) as response:
            out.put(("status", response.status_code))
            name = None
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name:
                    out.put((name, json.loads(line[6:])))
                    name = None


def test_login_token_and_store_scoping(central: CentralServer, mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    base = central.http
    anonymous = httpx.Client(base_url=base, timeout=10)
    assert anonymous.get("/api/kiosks").status_code == 401
    assert anonymous.get("/api/events").status_code == 401
    assert anonymous.post("/api/login", json={"username": "s1mgr", "password": "wrong"}).status_code == 401
    assert anonymous.get("/").status_code == 200  # the page itself (it shows the login form)
    assert anonymous.get("/openapi.json").status_code == 404  # API docs are off unless --api-docs

    pubs = [_publisher(mosquitto.url, "s1", "k1", tmp_path), _publisher(mosquitto.url, "s2", "k1", tmp_path)]
    try:
        for pub in pubs:
            for i in range(3):
                pub.submit_window(window(i), {"happy": 1}, "test-1")
        wait_until(lambda: central.store.count_windows() == 6, 15, "6 windows stored")
    finally:
        for pub in pubs:
            pub.stop()

    manager = _login(base, "s1mgr")
    kiosks = manager.get("/api/kiosks").json()
    assert {(k["store"], k["kiosk"]) for k in kiosks} == {("s1", "k1")}
    assert manager.get("/api/stores").json() == ["s1"]
    assert manager.get("/api/kiosks", params={"store": "s2"}).status_code == 403
    assert manager.get("/api/stores/s2/day").status_code == 403
    assert manager.get("/api/stats").status_code == 403
    day = manager.get("/api/stores/s1/day", params={"date": T0.date().isoformat(), "tz": "UTC"}).json()
    assert day["windows"] == 3 and day["people"] == sum(window(i).people for i in range(3))
    assert manager.get("/api/stores/s1/day", params={"tz": "Mars/Base"}).status_code == 422

    admin = _login(base, "admin")
    assert admin.get("/api/stores").json() == ["s1", "s2"]
    assert admin.get("/api/stats").json()["stored"] == 6

    token = central.users.new_token("s1mgr")
    bearer = httpx.Client(base_url=base, timeout=10, headers={"Authorization": f"Bearer {token}"})
    assert [k["store"] for k in bearer.get("/api/kiosks").json()] == ["s1"]
    assert httpx.get(f"{base}/api/kiosks", headers={"Authorization": "Bearer nope"}).status_code == 401
    manager.post("/api/logout")
    assert manager.get("/api/kiosks").status_code == 401

    for _ in range(5):  # guessing the admin's password: 5 tries, then even the right one is refused
        assert anonymous.post("/api/login", json={"username": "admin", "password": "guess"}).status_code == 401
    locked = anonymous.post("/api/login", json={"username": "admin", "password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert _login(base, "s1mgr")  # other accounts are not affected


def test_sse_stream_carries_only_own_store(central: CentralServer, mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    token = central.users.new_token("s1mgr")
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    reader = threading.Thread(target=_sse_reader, args=(central.http, {"Authorization": f"Bearer {token}"}, events, stop),
                              daemon=True)
    reader.start()
    assert events.get(timeout=10) == ("status", 200)
    wait_until(lambda: central.hub.subscribers == 1, 10, "the SSE client subscribed")
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    raw = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    raw.connect("127.0.0.1", mosquitto.port)
    raw.loop_start()
    try:
        raw.publish("moodkiosk/v1/s2/k9/mood", json.dumps(mood_document("s2", "k9", 1, 0)), qos=1).wait_for_publish(5)
        raw.publish("moodkiosk/v1/s2/k9/status", "online", qos=1).wait_for_publish(5)
        raw.publish("moodkiosk/v1/s1/k1/mood", json.dumps(mood_document("s1", "k1", 1, 0)), qos=1).wait_for_publish(5)
        raw.publish("moodkiosk/v1/s1/k1/status", "offline", qos=1).wait_for_publish(5)
        seen = []
        while len(seen) < 2:
            seen.append(events.get(timeout=10))
        names = {name: data for name, data in seen}
        assert [w["store"] for w in names["windows"]] == ["s1"] and names["windows"][0]["seq"] == 1
        assert names["kiosk"] == {**names["kiosk"], "store": "s1", "kiosk": "k1", "online": False}
        wait_until(lambda: central.store.count_windows() == 2, 10, "both stores' windows stored")
        assert events.empty()  # nothing of store s2 reached the s1 manager
    finally:
        stop.set()
        raw.loop_stop()
        raw.disconnect()


def test_central_command_starts_serves_and_stops_cleanly(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """`moodkiosk central` as an operator runs it: users file from `central-user`, SIGTERM ends it with 0."""
    import os
    import signal
    import subprocess
    import sys

    from helpers.mosquitto import free_port, wait_for_port

    env = dict(os.environ, MK_PW=PASSWORD)
    users = tmp_path / "users.json"
    cli = [sys.executable, "-m", "kiosk.cli"]
    added = subprocess.run(cli + ["central-user", "add", "mgr", "--store", "s1", "--password-env", "MK_PW",
                                  "--users", str(users)], env=env, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0 and "mgr may see s1" in added.stdout
    bad = subprocess.run(cli + ["central-user", "add", "x y", "--store", "s1", "--password-env", "MK_PW",
                                "--users", str(users)], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "user name 'x y'" in bad.stderr
    port = free_port()
    proc = subprocess.Popen(cli + ["central", "--mqtt", mosquitto.url, "--db", f"sqlite:///{tmp_path / 'c.db'}",
                                   "--http", f"127.0.0.1:{port}", "--users", str(users)],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, 30)
        client = _login(f"http://127.0.0.1:{port}", "mgr")
        assert client.get("/api/kiosks").json() == []
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err[-2000:]
    assert "collector stopped" in err
    wrong = subprocess.run(cli + ["central", "--db", "mysql://x/y", "--users", str(users)], env=env,
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr and "scheme 'mysql'" in wrong.stderr


def test_central_command_bad_input_is_one_error_line(tmp_path: Path) -> None:
    """Operator mistakes end with exit 2 and one `moodkiosk central: error: ...` line naming the problem."""
    import os
    import subprocess
    import sys

    from central.auth import UserDirectory
    from helpers.mosquitto import free_port

    users = tmp_path / "users.json"
    UserDirectory(users).set_user("mgr", PASSWORD, ["s1"])
    db = f"sqlite:///{tmp_path / 'c.db'}"
    dead = f"mqtt://127.0.0.1:{free_port()}"
    cases = [
        (["--users", str(tmp_path / "typo.json"), "--db", db], "users file " + str(tmp_path / "typo.json") + " does not exist"),
        (["--users", str(users), "--http", "8080"], "--http '8080' must be HOST:PORT"),
        (["--users", str(users), "--db", "postgresql://nobody@127.0.0.1:1/x"], "cannot connect"),
        (["--users", str(users), "--db", db, "--mqtt", dead], f"MQTT broker 127.0.0.1:{dead.rsplit(':', 1)[1]} unreachable"),
    ]
    for args, expected in cases:
        run = subprocess.run([sys.executable, "-m", "kiosk.cli", "central", *args], capture_output=True, text=True,
                             timeout=60, env=dict(os.environ))
        errors = [line for line in run.stderr.splitlines() if "error" in line.lower()]
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-2000:]
        assert len(errors) == 1 and errors[0].startswith("moodkiosk central: error: ") and expected in errors[0], run.stderr
