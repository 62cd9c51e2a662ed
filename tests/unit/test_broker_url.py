"""The one broker URL parser (`contract.parse_broker_url`) and the places that must use it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import contract
from kiosk.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("text", "host", "port", "tls"), [
    ("mqtt://broker.example", "broker.example", 1883, False),
    ("mqtts://broker.example", "broker.example", 8883, True),
    ("mqtt://10.0.0.5:1884", "10.0.0.5", 1884, False),
    ("mqtts://Broker.Example:443/", "broker.example", 443, True),
    ("mqtt://[::1]:1883", "::1", 1883, False),
    (contract.DEFAULT_BROKER_URL, "localhost", 1883, False),
])
def test_good_urls_decode_to_host_port_and_tls(text: str, host: str, port: int, tls: bool) -> None:
    broker = contract.parse_broker_url(text)
    assert (broker.host, broker.port, broker.tls) == (host, port, tls)
    assert contract.parse_broker_url(broker.url) == broker  # the canonical text reads back to the same value


@pytest.mark.parametrize(("text", "problem"), [
    ("http://broker", "must start with mqtt:// or mqtts://"),
    ("broker:1883", "must start with mqtt:// or mqtts://"),
    ("mqtt://", "has no host"),
    ("mqtt://:1883", "has no host"),
    ("mqtt://broker:0", "bad port"),
    ("mqtt://broker:65536", "bad port"),
    ("mqtt://broker:http", "bad port"),
    ("mqtt://broker:-1", "bad port"),
    ("mqtt://kiosk:secret@broker", "must not carry a user name or password"),
    ("mqtt://broker/moodkiosk", "without a path, query or fragment"),
    ("mqtt://broker?x=1", "without a path, query or fragment"),
    ("mqtt://broker#x", "without a path, query or fragment"),
    ("mqtt://bro ker", "without spaces"),
    ("mqtt://broker\n", "without spaces"),
    ("mqtt://bro\x00ker", "without spaces"),
    ("", "without spaces"),
    (1883, "must be text"),
    (None, "must be text"),
])
def test_hostile_urls_are_one_clear_error(text: object, problem: str) -> None:
    with pytest.raises(contract.BrokerUrlError, match=problem) as info:
        contract.parse_broker_url(text)
    assert "\n" not in str(info.value)


def test_the_kiosk_config_and_the_collector_command_use_the_same_parser(tmp_path: Path) -> None:
    for text in ("mqtt://kiosk:secret@broker", "mqtt://broker:0", "mqtt://broker/x"):
        expected = str(pytest.raises(contract.BrokerUrlError, contract.parse_broker_url, text).value)
        with pytest.raises(ConfigError) as info:
            parse_config({"mqtt": {"url": text}})
        assert info.value.problems == [f"mqtt.url: {expected}"]
        done = subprocess.run([sys.executable, "-m", "kiosk.cli", "central", "--mqtt", text, "--db",
                               f"sqlite:///{tmp_path / 'c.db'}"], capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert done.returncode == 2 and expected in done.stderr and "Traceback" not in done.stderr
    section = parse_config({"mqtt": {"url": "mqtts://broker.example"}}).mqtt
    assert section.broker == contract.BrokerUrl("broker.example", 8883, True)


def test_one_default_broker_for_kiosk_and_central() -> None:
    from central.cli import add_arguments
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).mqtt == contract.parse_broker_url(contract.DEFAULT_BROKER_URL)
    assert parse_config({}).mqtt.url == contract.DEFAULT_BROKER_URL
