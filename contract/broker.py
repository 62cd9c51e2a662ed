"""Broker addresses: the one parser of `mqtt://` / `mqtts://` URLs that kiosk, central and the dev tools share."""
from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from contract.operator_files import require_regular_file

MQTT_PORT = 1883
MQTTS_PORT = 8883
DEFAULT_BROKER_URL = f"mqtt://localhost:{MQTT_PORT}"
_SCHEMES = {"mqtt": (MQTT_PORT, False), "mqtts": (MQTTS_PORT, True)}


class BrokerUrlError(ValueError):
    """A broker URL that is not `mqtt://host[:port]` or `mqtts://host[:port]`; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    """Where a broker listens: host, port and whether the connection uses TLS (`mqtts://`)."""

    host: str
    port: int
    tls: bool

    @property
    def url(self) -> str:
        """The canonical text of this address (the port always written out)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"

    def __str__(self) -> str:
        return self.url


def parse_broker_url(text: object) -> BrokerUrl:
    """Decode `mqtt://host[:port]` (default port 1883) or `mqtts://host[:port]` (8883, TLS).

    Refused, with one line naming the problem: another scheme, no host, a bad or zero port, a path, query
    or fragment (nothing would read them), credentials in the URL (they would end up in logs; the kiosk
    and the collector take a user name and a password variable instead), spaces or control characters."""
    if not isinstance(text, str):
        raise BrokerUrlError(f"must be text like mqtt://host:1883 (got {type(text).__name__})")
    if not text or not text.isprintable() or any(ch.isspace() for ch in text):
        raise BrokerUrlError(f"must be mqtt://host[:port] or mqtts://host[:port] without spaces (got {text!r})")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise BrokerUrlError(f"has a bad port; ports are 1-65535 (got {text!r})") from None
    if parts.scheme not in _SCHEMES:
        raise BrokerUrlError(f"must start with mqtt:// or mqtts:// (got {text!r})")
    if parts.username is not None or parts.password is not None:
        raise BrokerUrlError("must not carry a user name or password; give them as settings of their own")
    if not parts.hostname:
        raise BrokerUrlError(f"has no host (got {text!r})")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BrokerUrlError(f"must be only scheme, host and port, without a path, query or fragment (got {text!r})")
    if port == 0:
        raise BrokerUrlError(f"has a bad port; ports are 1-65535 (got {text!r})")
    default_port, tls = _SCHEMES[parts.scheme]
    return BrokerUrl(parts.hostname, port or default_port, tls)


class CaFileError(ValueError):
    """A CA bundle that cannot be used; the message says why (missing, a folder, a device, not PEM)."""


def check_ca_file(path: str | os.PathLike[str]) -> None:
    """Raise CaFileError unless `path` is a regular file with at least one PEM certificate: paho's tls_set (and
    ssl) would otherwise fail later, inside a client thread, with a FileNotFoundError or SSLError traceback."""
    try:
        require_regular_file(path)
        ssl.create_default_context(cafile=os.fspath(path))
    except ssl.SSLError as exc:
        raise CaFileError(f"not a PEM CA bundle ({exc.reason or exc})") from None
    except OSError as exc:
        raise CaFileError(exc.strerror or str(exc)) from None
