"""How alerts leave central: one e-mail over SMTP and one JSON webhook call, each ending at a deadline, and
which failures mean the server itself is unreachable (skipped for the rest of a check)."""
from __future__ import annotations

import http.client
import json
import smtplib
import socket
import ssl
import threading
from email.message import EmailMessage
from typing import Any, Mapping
from urllib.parse import urlsplit

# What a delivery may raise: network and TLS (OSError), the SMTP conversation, a garbled HTTP answer.
DELIVERY_ERRORS = (OSError, smtplib.SMTPException, http.client.HTTPException)


def send_email(message: EmailMessage, host: str, port: int, deadline_s: float, tls: ssl.SSLContext | None,
               login: tuple[str, str] | None, implicit_tls: bool = False) -> None:
    """Send `message`; the whole conversation ends after `deadline_s`. With `tls`: STARTTLS, or TLS from the
    first byte with `implicit_tls` (SMTPS, port 465). Raises OSError / SMTPException."""
    client = (_BoundedSMTPS(host, port, deadline_s, tls) if implicit_tls and tls is not None
              else _BoundedSMTP(host, port, deadline_s))
    with client:
        if tls is not None and not implicit_tls:
            client.starttls(context=tls)
        if login is not None:
            client.login(*login)
        client.send_message(message)


class _BoundedSMTP(smtplib.SMTP):
    """smtplib.SMTP whose whole conversation, greeting included, ends after `deadline_s`: the socket timeout
    bounds each read only, and a server sending a byte every few seconds held the checks for ever. The
    connection is then cut; the blocked read returns and smtplib raises SMTPServerDisconnected."""

    def __init__(self, host: str, port: int, deadline_s: float, **tls: ssl.SSLContext) -> None:
        self._cutter = threading.Timer(deadline_s, self._cut)
        self._cutter.daemon = True
        self._cutter.start()
        super().__init__(host, port, timeout=min(10.0, deadline_s), **tls)  # closes itself (and the timer) on failure

    def _cut(self) -> None:
        _shutdown(self.sock)

    def close(self) -> None:
        self._cutter.cancel()
        super().close()


class _BoundedSMTPS(_BoundedSMTP, smtplib.SMTP_SSL):
    """The same deadline over TLS from the first byte (smtplib.SMTP_SSL, which takes the checking context)."""

    def __init__(self, host: str, port: int, deadline_s: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, deadline_s, context=context)


def unreachable(exc: BaseException) -> bool:
    """The server itself failed (refused, timed out, hung up, TLS or login failed), not one message or
    recipient: a webhook's HTTP error answer or a refused address leaves the server in use for the others."""
    if isinstance(exc, WebhookAnswer):
        return False
    if isinstance(exc, http.client.HTTPException):  # a garbled or cut answer
        return True
    if isinstance(exc, smtplib.SMTPException):  # an OSError too: ask which
        return isinstance(exc, (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected, smtplib.SMTPHeloError,
                                smtplib.SMTPAuthenticationError))
    return isinstance(exc, OSError)  # refused, timed out, reset, TLS


class WebhookAnswer(OSError):
    """The webhook's server answered, with a status that is not success (it works; this call did not)."""


def post_json(url: str, body: Mapping[str, Any], deadline_s: float) -> None:
    """POST `body` as JSON; the whole call, answer included, ends after `deadline_s` (the socket timeout bounds
    each read only, and a receiver answering a byte a second held the check thread for ever)."""
    parts = urlsplit(url)
    timeout = min(10.0, deadline_s)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout,
                                           context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    cutter = threading.Timer(deadline_s, lambda: _shutdown(conn.sock))
    cutter.daemon = True
    cutter.start()
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", path, body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json", "User-Agent": "moodkiosk-central"})
        response = conn.getresponse()
        response.read(65536)
        if response.status >= 300:
            raise WebhookAnswer(f"webhook answered {response.status}")
    finally:
        cutter.cancel()
        conn.close()


def _shutdown(sock: socket.socket | None) -> None:
    """Cut a connection that ran past its time: the read blocked on it returns, and the client gives up."""
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
