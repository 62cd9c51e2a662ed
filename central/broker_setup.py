"""`moodkiosk broker-setup`: a working Mosquitto config with one login per kiosk, an ACL that lets each kiosk
publish only its own topics and read nothing, a collector login that alone may subscribe (shared group
included), and for small sites a test CA and server certificate made with the `cryptography` library.

The collectors' shared-subscription group gets a secret name (see acl_text for why).
Written files: mosquitto.conf, passwords (mosquitto's PBKDF2-SHA512 "$7$" format), acl, credentials.json
(the generated passwords: give each kiosk its own, keep the file 0600), and with --tls ca.crt, server.crt,
server.key. Nothing is overwritten unless --force."""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import ipaddress
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import contract
from central.errors import CentralError

COLLECTOR_USER = "collector"
_PBKDF2_ITERATIONS = 101  # what mosquitto_passwd writes; the passwords are 32 random bytes, not words


class BrokerSetupError(CentralError):
    """A bad --kiosk value or an output folder that cannot be written."""


@dataclass(frozen=True)
class KioskLogin:
    store: str
    kiosk: str
    password: str

    @property
    def user(self) -> str:
        """kiosk-STORE-KIOSK with "-" doubled inside the ids: ids may contain "-", and store "a-b" + kiosk "c"
        must not share a login (and its ACL grants) with store "a" + kiosk "b-c" (a kiosk id starts with a
        letter or digit, so the single "-" before it is always the separator)."""
        return f"kiosk-{self.store.replace('-', '--')}-{self.kiosk.replace('-', '--')}"


@dataclass(frozen=True)
class BrokerSite:
    """Everything the files are made from."""

    kiosks: tuple[KioskLogin, ...]
    collector_password: str
    collector_group: str
    port: int
    tls: bool
    hostnames: tuple[str, ...]
    folder: Path
    persistence_dir: Path


def parse_kiosk(text: str) -> tuple[str, str]:
    """STORE/KIOSK, both contract ids."""
    store, sep, kiosk = text.partition("/")
    if not sep:
        raise BrokerSetupError(f"--kiosk {text!r} must be STORE/KIOSK, e.g. s001/k01")
    try:
        return contract.validate_id(store, "store"), contract.validate_id(kiosk, "kiosk")
    except contract.ContractError as exc:
        raise BrokerSetupError(f"--kiosk {text!r}: {exc}") from None


def password_line(user: str, password: str, salt: bytes | None = None) -> str:
    """One line of a mosquitto password file in its PBKDF2-SHA512 format (what mosquitto_passwd writes)."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, _PBKDF2_ITERATIONS)
    return f"{user}:$7${_PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def acl_text(site: BrokerSite) -> str:
    """Kiosks write their own three topics and read nothing; only the collector reads.

    Mosquitto 2.0's acl_file is checked when a message is delivered, not when a client subscribes: a kiosk
    that subscribes to the collectors' shared group is still a member, and the messages the broker hands
    it are then dropped by the read check. So the group name is a 128-bit secret that only the collector
    login is given (credentials.json, `moodkiosk central --group`)."""
    lines = ["# moodkiosk broker ACL (written by `moodkiosk broker-setup`). Anything not granted is denied.", ""]
    for login in site.kiosks:
        lines.append(f"user {login.user}")
        lines += [f"topic write {contract.topic_for(login.store, login.kiosk, kind)}" for kind in contract.KINDS]
        lines.append("")
    lines.append(f"user {COLLECTOR_USER}")
    lines += [f"topic read {contract.TOPIC_ROOT}/+/+/{kind}" for kind in contract.KINDS]
    return "\n".join(lines) + "\n"


def config_text(site: BrokerSite) -> str:
    """mosquitto.conf for the site (no inline comments: mosquitto would read them as part of a value)."""
    folder = site.folder.resolve()
    lines = [
        "# Mosquitto for a moodkiosk fleet (written by `moodkiosk broker-setup`).",
        "per_listener_settings false",
        f"listener {site.port}",
    ]
    if site.tls:
        lines += [f"cafile {folder / 'ca.crt'}", f"certfile {folder / 'server.crt'}", f"keyfile {folder / 'server.key'}",
                  "tls_version tlsv1.2"]
    lines += [
        "allow_anonymous false",
        f"password_file {folder / 'passwords'}",
        f"acl_file {folder / 'acl'}",
        "# Keep the collectors' sessions and queues across broker restarts.",
        "persistence true",
        f"persistence_location {site.persistence_dir.resolve()}/",
        "autosave_interval 60",
        "# Queue windows for a collector that restarts: 0 = no limit (the default 1000 loses windows).",
        "max_queued_messages 0",
        "max_inflight_messages 100",
        "# A window is ~300 bytes; refuse anything absurd before it reaches the collector.",
        "message_size_limit 4096",
    ]
    return "\n".join(lines) + "\n"


def make_certificates(site: BrokerSite) -> dict[str, bytes]:
    """A self-made CA (10 years) and a server certificate for the site's host names (2 years), PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "moodkiosk site CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now)
          .not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in site.hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, site.hostnames[0])]))
              .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now).not_valid_after(now + dt.timedelta(days=730))
              .add_extension(x509.SubjectAlternativeName(names), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return {
        "ca.crt": ca.public_bytes(pem),
        "server.crt": server.public_bytes(pem),
        "server.key": key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    }


def write_site(site: BrokerSite, force: bool = False) -> list[Path]:
    """Write every file of the site (secrets 0600); returns the paths written."""
    files: dict[str, tuple[bytes, int]] = {
        "mosquitto.conf": (config_text(site).encode(), 0o644),
        "acl": (acl_text(site).encode(), 0o644),
        "passwords": (("\n".join([password_line(COLLECTOR_USER, site.collector_password)]
                                 + [password_line(k.user, k.password) for k in site.kiosks]) + "\n").encode(), 0o600),
        "credentials.json": (json.dumps({
            "collector": {"username": COLLECTOR_USER, "password": site.collector_password,
                          "group": site.collector_group},
            "kiosks": [{"store": k.store, "kiosk": k.kiosk, "username": k.user, "password": k.password}
                       for k in site.kiosks],
        }, indent=2).encode() + b"\n", 0o600),
    }
    if site.tls:
        certs = make_certificates(site)
        files.update({"ca.crt": (certs["ca.crt"], 0o644), "server.crt": (certs["server.crt"], 0o644),
                      "server.key": (certs["server.key"], 0o600)})
    try:
        site.folder.mkdir(parents=True, exist_ok=True)
        site.persistence_dir.mkdir(parents=True, exist_ok=True)
        existing = [name for name in files if (site.folder / name).exists()]
        if existing and not force:
            raise BrokerSetupError(f"{site.folder}: {', '.join(existing)} already there; use --force to replace them")
        written = []
        for name, (data, mode) in files.items():
            path = site.folder / name
            tmp = path.with_name(name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, mode)  # whatever the umask
            os.replace(tmp, path)
            written.append(path)
    except OSError as exc:
        raise BrokerSetupError(f"{site.folder}: cannot write the broker files ({exc.strerror or exc})") from None
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="folder for the broker's files")
    parser.add_argument("--kiosk", action="append", required=True, metavar="STORE/KIOSK",
                        help="a kiosk that gets its own login (repeatable)")
    parser.add_argument("--port", type=int, default=None, help="listener port (default 8883 with --tls, else 1883)")
    parser.add_argument("--tls", action="store_true", help="make a test CA and a server certificate (small sites)")
    parser.add_argument("--hostname", action="append", default=None, metavar="NAME",
                        help="host name or IP the kiosks connect to (repeatable; default localhost, 127.0.0.1)")
    parser.add_argument("--persistence-dir", type=Path, default=None,
                        help="where mosquitto keeps its sessions (default OUT/data)")
    parser.add_argument("--force", action="store_true", help="replace files that are already there")


def main(args: argparse.Namespace) -> int:
    kiosks = [parse_kiosk(text) for text in args.kiosk]
    if len(set(kiosks)) != len(kiosks):
        raise BrokerSetupError("a --kiosk is given twice")
    port = args.port if args.port is not None else (contract.MQTTS_PORT if args.tls else contract.MQTT_PORT)
    if not 0 < port < 65536:
        raise BrokerSetupError(f"--port {port} is not a TCP port")
    for option, folder in (("--out", args.out), ("--persistence-dir", args.persistence_dir)):
        if folder is not None and not str(folder).isprintable():  # each path becomes a line of mosquitto.conf
            raise BrokerSetupError(f"{option} {str(folder)!r}: contains a control character (a line break?)")
    hostnames = tuple(args.hostname or ["localhost", "127.0.0.1"])
    for host in hostnames:
        if not re.fullmatch(r"[A-Za-z0-9.:-]{1,253}", host):
            raise BrokerSetupError(f"--hostname {host!r} is not a host name or IP address")
    site = BrokerSite(tuple(KioskLogin(s, k, secrets.token_urlsafe(24)) for s, k in kiosks),
                      secrets.token_urlsafe(24), "moodkiosk-" + secrets.token_hex(16), port, args.tls, hostnames, args.out,
                      args.persistence_dir or args.out / "data")
    for path in write_site(site, force=args.force):
        print(path)
    print(f"start it with: mosquitto -c {args.out / 'mosquitto.conf'}; the logins are in "
          f"{args.out / 'credentials.json'} (collector: moodkiosk central --mqtt-username {COLLECTOR_USER} "
          f"--group {site.collector_group}; keep the group name secret)")
    return 0
