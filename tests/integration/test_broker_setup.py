"""`moodkiosk broker-setup` on a real Mosquitto with TLS: kiosk A cannot publish as B, cannot read B, cannot
join the collectors' shared group; the collector gets everything; the shipped example config starts."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import contract
from central.collector import Collector, CollectorSettings
from devtools.devservices import MOSQUITTO
from central.store import open_store
from helpers.central import wait_until
from helpers.mosquitto import free_port, wait_for_port
from helpers.windows import mood

pytestmark = pytest.mark.timeout(90)
REPO = Path(__file__).resolve().parents[2]


def _moodkiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([os.fspath(REPO / ".venv/bin/python"), "-m", "kiosk.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def _start(conf: Path, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    if not os.path.exists(MOSQUITTO):
        pytest.skip(f"MOSQUITTO MISSING: {MOSQUITTO}")
    text = conf.read_text()
    if os.geteuid() == 0:
        text += "user root\n"  # keep root: the 'mosquitto' user could not read the test's private folder
    conf.write_text(text)
    log = open(workdir / "mosquitto.log", "wb")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=10)
    except TimeoutError:
        proc.kill()
        raise AssertionError((workdir / "mosquitto.log").read_text())
    return proc


def _client(port: int, ca: Path, user: str, password: str, name: str, received: list | None = None) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.tls_set(ca_certs=str(ca))
    if received is not None:
        client.on_message = lambda c, u, msg: received.append(msg.topic)
    client.connect("localhost", port)
    client.loop_start()
    wait_until(client.is_connected, 10, f"{name} connected over TLS")
    return client


def _publish(client: mqtt.Client, topic: str, payload: bytes, retain: bool = False) -> None:
    wait_until(client.is_connected, 10, "the kiosk (re)connected")
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)


def test_kiosks_are_confined_to_their_own_topics_over_tls(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "broker"
    done = _moodkiosk("broker-setup", "--out", str(out), "--kiosk", "s1/k1", "--kiosk", "s2/k1", "--tls",
                      "--port", str(port))
    assert done.returncode == 0, done.stderr
    for name in ("passwords", "credentials.json", "server.key"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    creds = json.loads((out / "credentials.json").read_text())
    a, b = creds["kiosks"]
    ca = out / "ca.crt"
    broker = _start(out / "mosquitto.conf", port, tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    group = creds["collector"]["group"]
    assert group.startswith("moodkiosk-") and len(group) == 42
    collector = Collector(CollectorSettings(contract.parse_broker_url(f"mqtts://localhost:{port}"), group=group,
                                            username="collector", password=creds["collector"]["password"],
                                            ca_file=str(ca), client_id="the-collector"), store)
    spied: list[str] = []
    try:
        collector.start()
        kiosk_a = _client(port, ca, a["username"], a["password"], "kiosk-a", spied)
        kiosk_b = _client(port, ca, b["username"], b["password"], "kiosk-b")
        # A publishes as B (refused by the ACL) and its own window (stored). The broker answers a refused
        # publish with PUBACK 135 and paho then reconnects: _publish waits for the connection each time.
        _publish(kiosk_a, contract.topic_for("s2", "k1", "mood"), mood("s2", "k1", 1, 1).encode())
        _publish(kiosk_a, contract.topic_for("s2", "k1", "status"), b"offline", retain=True)
        _publish(kiosk_a, contract.topic_for("s1", "k1", "mood"), mood("s1", "k1", 1, 1).encode())
        # Then A tries to read everything and to join the collectors' shared group (under the default name: the
        # real one is a secret only the collector login is given); B sends 20 windows: all must reach the
        # collector (none diverted to A) and A must receive none.
        wait_until(kiosk_a.is_connected, 10, "A connected")
        granted: list = []
        kiosk_a.on_subscribe = lambda client, userdata, mid, codes, props: granted.extend(codes)
        kiosk_a.subscribe([("moodkiosk/#", 1), ("$share/moodkiosk-collectors/moodkiosk/v1/+/+/mood", 1), ("#", 1)])
        wait_until(lambda: len(granted) == 3, 10, "A's SUBACK")
        time.sleep(0.3)
        for i in range(2, 22):
            kiosk_b.publish(contract.topic_for("s2", "k1", "mood"), mood("s2", "k1", i, i).encode(),
                            qos=1).wait_for_publish(5)
        wait_until(lambda: store.count_windows() == 21, 20, "A's own window and B's 20 stored")
        time.sleep(0.5)
        stored = {(k.store, k.kiosk): k.online for k in store.kiosks()}
        seqs = sorted(r.seq for r in [store.kiosks(["s2"])[0].latest] if r)
        print(f"\n[broker-setup] stored {store.count_windows()} windows; A received {len(spied)} messages; "
              f"status of s2/k1 {stored.get(('s2', 'k1'))}")
        assert spied == []  # A read nothing, its own publications included
        assert store.kiosks(["s2"])[0].latest.seq == 21 and seqs == [21]
        assert stored.get(("s2", "k1")) is None  # A could not mark B offline
        answers: list = []  # the broker's CONNACK to a kiosk login with the wrong password
        wrong = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="kiosk-x", protocol=mqtt.MQTTv5)
        wrong.username_pw_set(a["username"], "wrong-password")
        wrong.tls_set(ca_certs=str(ca))
        wrong.on_connect = lambda c, u, flags, reason, props: answers.append(reason)
        wrong.connect("localhost", port)
        wrong.loop_start()
        try:
            wait_until(lambda: answers, 10, "the broker's answer to a wrong password")
        finally:
            wrong.loop_stop()
        assert answers[0].is_failure and answers[0].value in (134, 135)  # bad user name or password / not authorized
    finally:
        collector.stop()
        store.close()
        broker.terminate()
        broker.wait(5)


def test_the_example_config_starts_as_shipped(tmp_path: Path) -> None:
    """central/mosquitto.conf.example with its paths moved into a temporary folder (and its files made there)."""
    example = (REPO / "central/mosquitto.conf.example").read_text()
    port = free_port()
    site = tmp_path / "etc"
    done = _moodkiosk("broker-setup", "--out", str(site), "--kiosk", "s1/k1", "--tls", "--port", str(port),
                      "--persistence-dir", str(tmp_path / "lib"))
    assert done.returncode == 0, done.stderr
    conf = tmp_path / "mosquitto.conf"
    text = (example.replace("/etc/mosquitto/moodkiosk", str(site)).replace("/var/lib/mosquitto", str(tmp_path / "lib"))
            .replace("listener 8883", f"listener {port}"))
    assert str(site) in text and f"listener {port}" in text
    conf.write_text(text)
    broker = _start(conf, port, tmp_path)
    try:
        creds = json.loads((site / "credentials.json").read_text())
        client = _client(port, site / "ca.crt", "collector", creds["collector"]["password"], "probe")
        client.disconnect()
    finally:
        broker.terminate()
        broker.wait(5)


def test_bad_kiosk_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = _moodkiosk("broker-setup", "--out", str(tmp_path / "x"), "--kiosk", "s1")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "STORE/KIOSK" in done.stderr
    assert shutil.which("true")


def test_look_alike_kiosk_ids_get_two_logins(tmp_path: Path) -> None:
    """Store "a-b" kiosk "c" and store "a" kiosk "b-c" were both the login kiosk-a-b-c: two lines for one user in
    the password file (one kiosk could not log in) and one ACL user allowed to write both kiosks' topics."""
    port = free_port()
    out = tmp_path / "broker"
    done = _moodkiosk("broker-setup", "--out", str(out), "--kiosk", "a-b/c", "--kiosk", "a/b-c", "--port", str(port))
    assert done.returncode == 0, done.stderr
    creds = json.loads((out / "credentials.json").read_text())
    first, second = creds["kiosks"]
    assert first["username"] != second["username"]
    assert (first["username"], second["username"]) == ("kiosk-a--b-c", "kiosk-a-b--c")
    assert contract.topic_for("a-b", "c", "mood") not in (out / "acl").read_text().split(f"user {second['username']}")[1]
    broker = _start(out / "mosquitto.conf", port, tmp_path)
    try:
        for login in (first, second):
            answers: list = []
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=login["username"], protocol=mqtt.MQTTv5)
            client.username_pw_set(login["username"], login["password"])
            client.on_connect = lambda c, u, flags, reason, props: answers.append(reason)
            client.connect("127.0.0.1", port)
            client.loop_start()
            try:
                wait_until(lambda: answers, 10, f"the broker's answer to {login['username']}")
            finally:
                client.loop_stop()
                client.disconnect()
            assert not answers[0].is_failure, (login["username"], answers[0])
    finally:
        broker.terminate()
        broker.wait(5)


@pytest.mark.parametrize("option", ["--out", "--persistence-dir"])
def test_a_folder_with_a_line_break_never_reaches_mosquitto_conf(tmp_path: Path, option: str) -> None:
    """`--out 'x<LF>allow_anonymous true'` wrote that line into mosquitto.conf as a directive of its own (the
    test did not check what mosquitto makes of it); now one line naming the option, exit 2, nothing written."""
    hostile = str(tmp_path / "b") + "\nallow_anonymous true"
    args = ["--out", str(tmp_path / "out")] if option == "--persistence-dir" else []
    done = _moodkiosk("broker-setup", *args, option, hostile, "--kiosk", "s1/k1")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and option in done.stderr, done.stderr
    assert not any(tmp_path.iterdir())
