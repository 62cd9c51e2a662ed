"""The kiosk's one TOML config: validated pydantic models whose errors name the key and the problem."""
from __future__ import annotations

import difflib
import logging
import os
import re
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

import contract
from contract.operator_files import read_small_file, read_small_text
from kiosk.errors import KioskError
from kiosk.services.private_files import private_folder
from vision.config import CameraConfig, MoodConfig

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "MOODKIOSK_DATA_DIR"
MIN_CARD_HASH_KEY_BYTES = 16  # kiosk.services.cards.CardHasher refuses shorter keys


class ConfigError(KioskError):
    """The config file is missing, unreadable or invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(f"{source}: " + "; ".join(self.problems))


def default_data_dir() -> Path:
    """Per-user data dir: $MOODKIOSK_DATA_DIR, else $XDG_DATA_HOME/moodkiosk, else ~/.local/share/moodkiosk."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "moodkiosk"


class _Section(BaseModel):
    """Base of every section: unknown keys are errors, values are immutable once loaded.

    `[camera]` and `[mood]` are the vision pipeline's own sections (`vision.config`), used here as they are."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


CardFormat = Literal["ean13", "luhn", "digits"]


class CardsConfig(_Section):
    formats: tuple[CardFormat, ...] = Field(
        ("ean13", "luhn"),
        description='Accepted card number formats: "ean13" (13 digits, EAN check digit), '
        '"luhn" (Luhn check digit), "digits" (any digits, no check). A card is valid if any format matches.',
    )
    min_length: int = Field(8, ge=4, le=64, description="Shortest accepted card number (digits).")
    max_length: int = Field(19, ge=4, le=64, description="Longest accepted card number (digits).")
    keyboard_wedge: bool = Field(True, description="Accept scans from a USB keyboard-wedge reader (digits + Enter).")
    wedge_max_key_gap_ms: int = Field(
        80, ge=5, le=2000, description="Max gap between keystrokes of one scan; slower input is a human typing, not a scan."
    )
    qr_prefix: str = Field(
        "moodkiosk:card:", description="Prefix of loyalty-app QR payloads; a bare number is accepted too."
    )
    rescan_ignore_s: float = Field(
        3.0, ge=0.0, le=60.0, description="The same card read again within this time is one scan, not a new session."
    )
    serial_port: str | None = Field(
        None, description="Serial device (or pyserial URL) of a plain reader sending `CARD <id>` lines; "
        "used only when [peripheral] is off."
    )
    serial_baudrate: int = Field(9600, ge=1200, le=4_000_000, description="Speed of that serial card reader.")

    @field_validator("formats")
    @classmethod
    def _non_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one format")
        return value

    @model_validator(mode="after")
    def _lengths(self) -> "CardsConfig":
        if self.min_length > self.max_length:
            raise ValueError(f"min_length ({self.min_length}) is greater than max_length ({self.max_length})")
        return self


class PrivacyConfig(_Section):
    card_hash_key_env: str = Field(
        "MOODKIOSK_CARD_HASH_KEY",
        description="Environment variable holding the per-deployment secret for the keyed hash of card numbers.",
    )
    card_hash_key_file: Path | None = Field(
        None,
        description="File holding that secret, used when the variable is unset. If neither is set a random key "
        "is created once in data_dir/card_hash.key (mode 0600).",
    )
    controller: str = Field(
        "Demo Store GmbH, Musterstraße 1, 10115 Berlin", min_length=3, max_length=160,
        description="The controller (GDPR Art. 4(7)) named on the screen notice and the printed sign: the store's legal name and address.",
    )
    contact: str = Field(
        "privacy@demo-store.example", min_length=3, max_length=120,
        description="Where shoppers ask about their data (e-mail or phone of the store's data protection contact).",
    )
    privacy_url: str = Field(
        "https://demo-store.example/privacy", min_length=8, max_length=200,
        description="The store's privacy page; the screen notice and the sign carry it as a QR code.",
    )
    mood_pause_after_s: float = Field(
        120.0, ge=0.0, le=3600.0, description='After a shopper chose "without mood reading", analysis stays off for '
        "their visit and this many seconds after it.",
    )
    timezone: str = Field("UTC", description="IANA time zone of the opening hours, e.g. Europe/Berlin.")
    opening_hours: tuple[str, ...] = Field(
        (), description='The camera analyses only within these hours, one span per entry, e.g. "mon-fri 08:00-20:00", '
        '"sat 09:00-14:00" (24:00 ends a day). Empty: no limit.',
    )

    @field_validator("privacy_url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"must be an http(s):// address of the privacy page (got {value!r})")
        return value

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        from vision.opening_hours import OpeningHours, OpeningHoursError

        try:
            OpeningHours.parse(value, info.data.get("timezone", "UTC"), "")
        except OpeningHoursError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from vision.opening_hours import OpeningHours, OpeningHoursError

        try:
            OpeningHours.parse((), value, "")
        except OpeningHoursError:
            raise ValueError(f"unknown time zone {value!r} (an IANA name like Europe/Berlin)") from None
        return value


class LoyaltyConfig(_Section):
    db_path: Path | None = Field(None, description="Loyalty SQLite file; default data_dir/loyalty.sqlite.")
    seed_demo_data: bool = Field(
        False, description="Fill an empty loyalty store with the bundled fictional demo data on start."
    )
    purchase_retention_days: int = Field(
        730, ge=0, le=3650, description="Purchases older than this many days are deleted at start and by "
        "`moodkiosk loyalty prune`; 0 keeps them until deleted.",
    )


class OffersConfig(_Section):
    max_offers: int = Field(4, ge=1, le=5, description="Offers shown to a known shopper (3-5 recommended).")
    min_offers: int = Field(3, ge=1, le=5, description="Fill up with popular offers until at least this many.")
    mood_reorder: bool = Field(
        False, description="Offer shoppers an on-screen opt-in, per visit, to let their current mood reorder their "
        "own offers (never stored). Off: mood never touches offers.",
    )
    engine: Literal["ranker", "rules"] = Field(
        "ranker", description="Offer engine: 'ranker' (learned ranker over candidates) or 'rules' (the first engine)."
    )
    category_cap: int = Field(2, ge=0, le=5, description="At most this many offers per category (0 = no cap).")
    discovery_share: float = Field(
        0.25, ge=0.0, le=1.0, description="Least share of the offer slots for products new to the shopper."
    )
    redeem: Literal["card", "till"] = Field(
        "till", description="How offers are redeemed: 'card' (loaded on the loyalty card) or 'till' (show at the till)."
    )
    snapshot_dir: Path | None = Field(
        None,
        description="Directory the kiosk checks for a newer offer snapshot of its store (written by central's "
        "`moodkiosk offers-build`); unset = only `moodkiosk import-offers` imports snapshots.",
    )
    snapshot_check_s: float = Field(
        300.0, ge=5, le=86_400, description="Seconds between checks of snapshot_dir for a newer snapshot."
    )

    @model_validator(mode="after")
    def _counts(self) -> "OffersConfig":
        if self.min_offers > self.max_offers:
            raise ValueError(f"min_offers ({self.min_offers}) is greater than max_offers ({self.max_offers})")
        return self


class MqttConfig(_Section):
    enabled: bool = Field(False, description="Send anonymous mood windows and health to the central broker.")
    url: str = Field(
        contract.DEFAULT_BROKER_URL, description="Broker URL, mqtt://host[:port] or mqtts://host[:port] (TLS)."
    )
    username: str | None = Field(None, description="Broker user name, if the broker needs one.")
    password_env: str = Field("MOODKIOSK_MQTT_PASSWORD", description="Environment variable holding the broker password.")
    password_file: Path | None = Field(None, description="File holding the broker password, used when the variable is unset.")
    protocol: Literal["5", "3.1.1"] = Field("5", description='MQTT protocol version, "5" or "3.1.1".')
    ca_file: Path | None = Field(None, description="CA bundle for mqtts://; default the system trust store.")
    client_id: str | None = Field(None, description="MQTT client id; default moodkiosk-<store_id>-<kiosk_id>.")
    spool_path: Path | None = Field(None, description="On-disk spool of unsent windows; default data_dir/spool.sqlite.")
    spool_max_windows: int = Field(
        100_000, ge=10, le=10_000_000, description="Spool capacity; beyond it the oldest windows are dropped (and counted)."
    )
    health_interval_s: float = Field(60.0, ge=1, le=3600, description="Seconds between health reports.")
    keepalive_s: int = Field(30, ge=5, le=600, description="MQTT keep-alive: seconds of silence before a ping.")
    reconnect_max_s: int = Field(
        60, ge=1, le=600, description="Longest wait between reconnect attempts (the wait doubles from 1 s up to this)."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            contract.parse_broker_url(value)
        except contract.BrokerUrlError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def broker(self) -> contract.BrokerUrl:
        """The broker's host, port and TLS flag (`url` was checked when the config was loaded)."""
        return contract.parse_broker_url(self.url)

    def resolve_password(self) -> str | None:
        """The broker password from the env var or file; None when no username is configured."""
        if self.username is None:
            return None
        value = _read_secret(self.password_env, self.password_file, "mqtt.password_env / mqtt.password_file")
        if value is None:
            raise ConfigError(
                [f"mqtt.username is set but neither ${self.password_env} nor mqtt.password_file gives a password"]
            )
        return value


class TimeoutsConfig(_Section):
    offers_s: float = Field(45.0, ge=3, le=600, description="Offers screen without input returns to attract.")
    guest_s: float = Field(30.0, ge=3, le=600, description="Guest (generic offers) screen without input returns to attract.")
    card_error_s: float = Field(15.0, ge=2, le=600, description="Unknown/malformed card message returns to attract.")
    feedback_s: float = Field(20.0, ge=2, le=600, description="Feedback (three faces) screen without a press returns to attract.")
    thanks_s: float = Field(4.0, ge=1, le=60, description="How long the thank-you stays.")


class PeripheralConfig(_Section):
    enabled: bool = Field(False, description="Use the kiosk's peripheral board (card reader, buttons, LED) over serial.")
    port: str = Field("/dev/ttyACM0", min_length=1, description="Serial device of the peripheral board.")
    baudrate: int = Field(115200, ge=1200, le=4_000_000, description="Serial speed.")


class UiConfig(_Section):
    fullscreen: bool = Field(True, description="Run full-screen (kiosk); the demo runs windowed.")
    orientation: Literal["landscape", "portrait"] = Field("landscape", description="Screen orientation.")
    rotation: Literal[0, 90, 180, 270] = Field(
        0, description="Rotate the picture clockwise for a panel mounted on its side (X: xrandr, eglfs/linuxfb: Qt, "
        "Wayland: the compositor, e.g. cage -r)."
    )


class KioskConfig(_Section):
    """The whole kiosk config; `load_config(None)` gives the demo defaults."""

    store_id: str = Field("demo-store", description="Store id: 1-64 letters, digits, - or _ (one MQTT topic level).")
    kiosk_id: str = Field("kiosk-1", description="Kiosk id within the store, same characters as store_id.")
    language: Literal["en", "de"] = Field("en", description="Language of the shopper-facing texts.")
    data_dir: Path = Field(default_factory=default_data_dir, description="Where the kiosk keeps its files.")
    camera: CameraConfig = Field(default_factory=CameraConfig)
    mood: MoodConfig = Field(default_factory=MoodConfig)
    cards: CardsConfig = Field(default_factory=CardsConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    loyalty: LoyaltyConfig = Field(default_factory=LoyaltyConfig)
    offers: OffersConfig = Field(default_factory=OffersConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    peripheral: PeripheralConfig = Field(default_factory=PeripheralConfig)
    ui: UiConfig = Field(default_factory=UiConfig)

    @field_validator("store_id", "kiosk_id")
    @classmethod
    def _topic_safe(cls, value: str) -> str:
        if not contract.ID_PATTERN.fullmatch(value):
            raise ValueError(f"must be 1-64 letters, digits, - or _ starting with a letter or digit (got {value!r})")
        return value

    @model_validator(mode="after")
    def _one_card_reader_port(self) -> "KioskConfig":
        # The message names its own key (cross-section checks have no single location of their own).
        if self.peripheral.enabled and self.cards.serial_port:
            raise ValueError(
                f"cards.serial_port: set to {self.cards.serial_port!r} while peripheral.enabled = true, whose board "
                "reads the cards; the kiosk would ignore it: remove cards.serial_port or disable [peripheral]"
            )
        return self

    @property
    def loyalty_db_path(self) -> Path:
        return self.loyalty.db_path or self.data_dir / "loyalty.sqlite"

    @property
    def offer_snapshots_path(self) -> Path:
        """The kiosk's imported offer snapshots (current and previous), beside its other data."""
        return self.data_dir / "offer_snapshots.sqlite"

    @property
    def spool_path(self) -> Path:
        return self.mqtt.spool_path or self.data_dir / "spool.sqlite"

    @property
    def offer_stats_path(self) -> Path:
        """The kiosk's offer counts per day (k-anonymous days are sent to central)."""
        return self.data_dir / "offer_stats.sqlite"

    @property
    def generated_key_path(self) -> Path:
        """Where the card-hash key is created when none is configured."""
        return self.data_dir / "card_hash.key"

    def card_hash_key(self) -> bytes:
        """The per-deployment secret for hashing card numbers (env var, key file, or a generated data_dir key).

        Reads (and the first time creates) a file: call it once at start (kiosk.app, the loyalty commands)
        and hand the `CardHasher` on; the state machine never calls it."""
        value = _read_secret(
            self.privacy.card_hash_key_env, self.privacy.card_hash_key_file, "privacy.card_hash_key_file"
        )
        if value is not None:
            problem = self._card_hash_key_problem(value)
            if problem is not None:
                raise ConfigError([problem])
            return value.encode("utf-8")
        return _generated_key(self.generated_key_path)

    def check_card_hash_key(self) -> None:
        """A configured key (variable or file) that the hasher would refuse is a config problem, found at load
        (before: a traceback at start, and `validate-config` said OK). Creates nothing; a file that cannot be
        read is reported when the key is needed, as before."""
        try:
            value = _read_secret(
                self.privacy.card_hash_key_env, self.privacy.card_hash_key_file, "privacy.card_hash_key_file"
            )
        except ConfigError:
            return
        problem = None if value is None else self._card_hash_key_problem(value)
        if problem is not None:
            raise ConfigError([problem])

    def _card_hash_key_problem(self, value: str) -> str | None:
        size = len(value.encode("utf-8"))
        if size >= MIN_CARD_HASH_KEY_BYTES:
            return None
        env = self.privacy.card_hash_key_env
        where = f"${env}" if os.environ.get(env) else f"privacy.card_hash_key_file ({self.privacy.card_hash_key_file})"
        return (f"{where}: the card hash key must be at least {MIN_CARD_HASH_KEY_BYTES} bytes, got {size} "
                "(e.g. `openssl rand -hex 32`)")


def demo_config(**overrides: object) -> KioskConfig:
    """The embedded defaults of `moodkiosk demo`: windowed, demo camera, demo loyalty data, no broker."""
    data: dict[str, object] = {
        "ui": {"fullscreen": False},
        "loyalty": {"seed_demo_data": True},
        "camera": {"source": "demo"},
        "mqtt": {"enabled": False},
    }
    data.update(overrides)
    return parse_config(data, "demo defaults")


def _read_secret(env_name: str, file: Path | None, key: str) -> str | None:
    """Secret from the environment first, then from a file; None if neither is set."""
    value = os.environ.get(env_name)
    if value:
        return value
    if file is None:
        return None
    try:
        text = read_small_text(file).strip()
    except OSError as exc:
        raise ConfigError([f"{key}: cannot read {file}: {exc.strerror or exc}"]) from exc
    if not text:
        raise ConfigError([f"{key}: {file} is empty"])
    return text


def _generated_key(path: Path) -> bytes:
    """Read, or create once (0600), a random key so an unconfigured kiosk still never logs clear card numbers."""
    try:
        existing = read_small_file(path).strip()
    except FileNotFoundError:
        existing = b""
    except OSError as exc:
        raise ConfigError([f"privacy: cannot read {path}: {exc.strerror or exc}"]) from exc
    if existing:
        if len(existing) < MIN_CARD_HASH_KEY_BYTES:  # cut short: a new key would un-link the logged hashes
            raise ConfigError([f"privacy: {path} holds {len(existing)} bytes, a card hash key needs at least "
                               f"{MIN_CARD_HASH_KEY_BYTES}: restore it from a backup, or delete it for a new key"])
        return existing
    key = secrets.token_hex(32).encode("ascii")
    try:
        private_folder(path.parent)  # 0700 when the kiosk creates it; an existing folder keeps its mode
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
    except FileExistsError:
        return read_small_file(path).strip()
    except OSError as exc:
        raise ConfigError([f"privacy: cannot create {path}: {exc.strerror or exc}"]) from exc
    logger.warning("No card hash key configured; created a random one in %s", path)
    return key


def _format_errors(exc: ValidationError) -> list[str]:
    """One readable line per pydantic error: dotted key path, then the problem."""
    lines = []
    for err in exc.errors(include_url=False):
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            problem = "unknown key" + _suggestion(err["loc"])
        elif kind == "missing":
            problem = "required key is missing"
        else:
            problem = re.sub(r"^Value error, ", "", err["msg"])
            if "input" in err and kind not in ("value_error",) and not isinstance(err["input"], dict):
                problem += f" (got {err['input']!r})"
        lines.append(problem if not err["loc"] and kind == "value_error" else f"{key}: {problem}")
    return lines


def _suggestion(loc: tuple[int | str, ...]) -> str:
    """' (did you mean X?)' for a misspelt key, from the fields of the section it sits in."""
    model: type[BaseModel] = KioskConfig
    for part in loc[:-1]:
        field_info = model.model_fields.get(str(part))
        annotation = field_info.annotation if field_info else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative paths in a config file mean relative to that file, `~` means the user's home."""
    from kiosk.config_paths import raw_path_entries

    for section, key, _ in raw_path_entries(data):
        value = section[key]
        if isinstance(value, str) and value:
            path = Path(value).expanduser()
            section[key] = path if path.is_absolute() else base / path
    return data


def parse_config(data: dict[str, Any], source: str = "config", base_dir: Path | None = None) -> KioskConfig:
    """Validate an already-parsed TOML mapping; raises ConfigError listing every problem."""
    from kiosk.config_paths import empty_path_keys, path_problems

    empty_keys = tuple(empty_path_keys(data))
    empty = [f"{key}: is empty (leave the key out for its default)" for key in empty_keys]
    if base_dir is not None:
        data = _resolve_paths(data, base_dir)
    try:
        config = KioskConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(empty + _format_errors(exc), source) from None
    problems = empty + path_problems(config, empty_keys)  # a folder where a file is meant, a device as data_dir
    if problems:
        raise ConfigError(problems, source)
    if config.mqtt.enabled:
        try:
            config.mqtt.resolve_password()  # fail at start, not at the first publish
        except ConfigError as exc:
            raise ConfigError(exc.problems, source) from None
    try:
        config.check_card_hash_key()
    except ConfigError as exc:
        raise ConfigError(exc.problems, source) from None
    return config


def load_config(path: str | os.PathLike[str] | None = None) -> KioskConfig:
    """Load and validate a TOML config file; `None` gives the embedded demo defaults."""
    if path is None:
        return KioskConfig()
    file = Path(path)
    try:
        raw = read_small_file(file)
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror or exc}"], str(file)) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([f"not UTF-8 text ({exc.reason} at byte {exc.start})"], str(file)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(file)) from exc
    config = parse_config(data, str(file), file.resolve().parent)
    logger.info("Loaded config %s (store %s, kiosk %s)", file, config.store_id, config.kiosk_id)
    return config
