"""The dashboard's own HTTPS: the certificate and key options checked up front, so a bad pair is one line."""
from __future__ import annotations

import os
import ssl
from dataclasses import dataclass

from central.errors import CentralError


@dataclass(frozen=True)
class TlsFiles:
    """A certificate chain and its private key (PEM) that load together."""

    cert: str
    key: str


def tls_files(cert: str | None, key: str | None) -> TlsFiles | None:
    """None for plain HTTP; the checked pair for HTTPS. Raises CentralError naming the option and the fix."""
    if not cert and not key:
        return None
    if not cert or not key:
        given, missing = ("--tls-cert", "--tls-key") if cert else ("--tls-key", "--tls-cert")
        raise CentralError(f"{given} is set but {missing} is not: HTTPS needs both the certificate and its key")
    for option, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not os.path.isfile(path):
            raise CentralError(f"{option} {path}: no such file")
        if not os.access(path, os.R_OK):
            raise CentralError(f"{option} {path}: not readable by this user (the service runs as its own user)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise CentralError(f"--tls-cert {cert} / --tls-key {key}: not a PEM certificate and matching key "
                           f"({exc.reason or exc})") from exc
    return TlsFiles(cert, key)
