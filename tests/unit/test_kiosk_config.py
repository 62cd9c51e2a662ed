"""Kiosk config: demo defaults, the example file, errors that name the key, secrets, `validate-config`."""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel

from kiosk.cli import main as cli_main
from kiosk.config import ConfigError, KioskConfig, demo_config, load_config, parse_config
from kiosk.errors import KioskError

EXAMPLE = Path(__file__).resolve().parents[2] / "kiosk" / "config.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_run_the_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MOODKIOSK_DATA_DIR", str(tmp_path / "data"))
    config = load_config(None)
    assert (config.language, config.camera.source, config.mqtt.enabled) == ("en", "demo", False)
    assert config.data_dir == tmp_path / "data"
    assert config.loyalty_db_path == tmp_path / "data" / "loyalty.sqlite"
    demo = demo_config()
    assert demo.ui.fullscreen is False and demo.loyalty.seed_demo_data is True


def test_example_file_is_valid_and_matches_the_defaults() -> None:
    assert load_config(EXAMPLE).model_dump() == KioskConfig().model_dump()


def _fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, object]]:
    found = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += _fields(annotation, f"{prefix}{name}.")
        else:
            found.append((f"{prefix}{name}", info))
    return found


def test_every_field_is_described_and_in_the_example() -> None:
    example = EXAMPLE.read_text(encoding="utf-8")
    for key, info in _fields(KioskConfig):
        assert info.description, f"{key} has no description"
        assert key.rsplit(".", 1)[-1] in example, f"{key} is missing from config.example.toml"


@pytest.mark.parametrize("text, expected", [
    ('languge = "de"', "languge: unknown key (did you mean language?)"),
    ('[camera]\nsorce = "0"', "camera.sorce: unknown key (did you mean source?)"),
    ('[mqtt]\nurl = "http://broker"', "mqtt.url: must start with mqtt:// or mqtts://"),
    ('[mqtt]\nurl = "mqtt://"', "mqtt.url: has no host"),
    ('[mqtt]\nurl = "mqtt://host:99999"', "mqtt.url: has a bad port"),
    ('[mqtt]\nprotocol = "4"', "mqtt.protocol: Input should be '5' or '3.1.1' (got '4')"),
    ('store_id = "shop/1"', "store_id: must be 1-64 letters, digits, - or _"),
    ('language = "fr"', "language: Input should be 'en' or 'de' (got 'fr')"),
    ('[timeouts]\noffers_s = 0', "timeouts.offers_s: Input should be greater than or equal to 3 (got 0)"),
    ('[cards]\nformats = ["ean8"]', "cards.formats.0: Input should be 'ean13', 'luhn' or 'digits' (got 'ean8')"),
    ('[cards]\nformats = []', "cards.formats: needs at least one format"),
    ('[cards]\nmin_length = 20\nmax_length = 10', "cards: min_length (20) is greater than max_length (10)"),
    ('[mood]\nk_anonymity = "three"', "mood.k_anonymity: Input should be a valid integer"),
    ('[mood]\nwindow_seconds = nan', "mood.window_seconds: Input should be a finite number (got nan)"),
    ('[timeouts]\noffers_s = inf', "timeouts.offers_s: Input should be a finite number (got inf)"),
    ('camera = 3', "camera: Input should be a valid dictionary or instance of CameraConfig"),
    ('[cards]\nserial_port = "/dev/ttyUSB0"\n[peripheral]\nenabled = true',
     "cards.serial_port: set to '/dev/ttyUSB0' while peripheral.enabled = true, whose board reads the cards"),
])
def test_errors_name_the_key_and_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert isinstance(caught.value, KioskError)


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, 'language = "fr"\n[mqtt]\nurl = "x://y"\nbogus = 1\n'))
    assert len(caught.value.problems) == 3


def test_unreadable_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "a = [\n"))
    path = tmp_path / "latin1.toml"
    path.write_bytes('store_id = "Caf\xe9"'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'data_dir = "state"\n[loyalty]\ndb_path = "db/loyalty.sqlite"\n'))
    assert config.data_dir == tmp_path / "state"
    assert config.loyalty_db_path == tmp_path / "db" / "loyalty.sqlite"
    assert config.spool_path == tmp_path / "state" / "spool.sqlite"


def test_mqtt_password_comes_from_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = '[mqtt]\nenabled = true\nurl = "mqtts://broker.example"\nusername = "kiosk"\npassword_env = "C1_TEST_PW"\n'
    monkeypatch.delenv("C1_TEST_PW", raising=False)
    with pytest.raises(ConfigError, match=r"mqtt.username is set but neither \$C1_TEST_PW nor mqtt.password_file"):
        load_config(write(tmp_path, text))
    (tmp_path / "pw").write_text("from-file\n", encoding="utf-8")
    config = load_config(write(tmp_path, text + 'password_file = "pw"\n'))
    assert config.mqtt.resolve_password() == "from-file"
    assert config.mqtt.url == "mqtts://broker.example"
    monkeypatch.setenv("C1_TEST_PW", "from-env")
    assert config.mqtt.resolve_password() == "from-env"
    assert "from-env" not in repr(config)  # the secret never sits in the config object


def test_card_hash_key_from_env_file_or_generated_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOODKIOSK_CARD_HASH_KEY", raising=False)
    config = parse_config({"data_dir": str(tmp_path)})
    key = config.card_hash_key()
    key_file = tmp_path / "card_hash.key"
    assert len(key) == 64 and key_file.read_bytes() == key
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert config.card_hash_key() == key
    monkeypatch.setenv("MOODKIOSK_CARD_HASH_KEY", "a-deployment-secret-of-some-length")
    assert config.card_hash_key() == b"a-deployment-secret-of-some-length"
    missing = parse_config({"privacy": {"card_hash_key_env": "C1_UNSET", "card_hash_key_file": str(tmp_path / "nope")}})
    with pytest.raises(ConfigError, match="privacy.card_hash_key_file: cannot read"):
        missing.card_hash_key()


def test_every_config_section_is_declared_frozen() -> None:
    """Components keep the section they were given; one left unfrozen (a new one too) could change under them."""
    seen: list[str] = []

    def walk(model: type[BaseModel]) -> None:
        seen.append(model.__name__)
        assert model.model_config.get("frozen") is True, f"{model.__name__} is not frozen"
        for field in model.model_fields.values():
            for arg in (field.annotation, *get_args(field.annotation)):
                if isinstance(arg, type) and issubclass(arg, BaseModel) and arg.__name__ not in seen:
                    walk(arg)

    walk(KioskConfig)
    assert len(seen) > 5 and "MqttConfig" in seen


def test_validate_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["validate-config", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.startswith(f"OK: {EXAMPLE}")
    bad = write(tmp_path, 'languge = "de"\n[mqtt]\nurl = "http://x"\n')
    assert cli_main(["validate-config", str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{bad}: 2 problem(s)"
    assert sorted(out[1:]) == ["  languge: unknown key (did you mean language?)",
                               "  mqtt.url: must start with mqtt:// or mqtts:// (got 'http://x')"]


@pytest.mark.parametrize("text, expected", [
    ('[camera]\nprivacy_zones = [[[0, 0], [1.5, 0], [1, 1]]]',
     "camera.privacy_zones: zone 1: point 2 [1.5, 0] lies outside the frame"),
    ('[camera]\nprivacy_zones = [[]]', "camera.privacy_zones: zone 1: is empty"),
    ('[privacy]\ntimezone = "Europe/Berlin"\nopening_hours = ["mon-sat 08:00-20:00", "sat 09:00-14:00"]',
     "privacy.opening_hours: entry 2 'sat 09:00-14:00': overlaps entry 1 'mon-sat 08:00-20:00' on sat"),
    ('[privacy]\ntimezone = "Mars/Olympus"', "privacy.timezone: unknown time zone 'Mars/Olympus'"),
    ('[privacy]\nprivacy_url = "ftp://files.example/p"', "privacy.privacy_url: must be an http(s):// address"),
    ('[mood]\nmax_dwell_s = 0', "mood.max_dwell_s: Input should be greater than 0"),
])
def test_privacy_settings_name_the_key_and_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_privacy_defaults_protect_the_shopper() -> None:
    config = KioskConfig()
    assert config.offers.mood_reorder is False  # mood never orders offers unless the store asks and the shopper agrees
    assert config.mood.max_dwell_s == 600 and config.privacy.mood_pause_after_s == 120
    assert config.loyalty.purchase_retention_days == 730
