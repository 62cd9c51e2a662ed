"""Browser-facing hardening of the dashboard app: security headers on every response, one 422 for any bad
query parameter (never a 500), and the cap on live streams per user."""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

STREAMS_PER_USER = 8  # a manager with a few tabs; not 500 streams on one token

_CSP = ("default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

SECURITY_HEADERS = {
    # Scripts only from here (the page's own inline script is allowed by its hash, see page_csp); nothing may
    # frame it (clickjacking).
    "Content-Security-Policy": _CSP.format(script="'self'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def page_csp(html: str) -> str:
    """The page's CSP: its inline <script> blocks by SHA-256, and no other inline script. With 'unsafe-inline'
    one escaping slip (a store name, an alert text) would have run injected script in a manager's session."""
    hashes = [base64.b64encode(hashlib.sha256(m.group(1).encode("utf-8")).digest()).decode()
              for m in re.finditer(r"<script>(.*?)</script>", html, re.S)]
    return _CSP.format(script=" ".join(["'self'"] + [f"'sha256-{h}'" for h in hashes]))


class _SecurityHeaders:
    """Plain ASGI (not BaseHTTPMiddleware, which would buffer around the server-sent event streams).

    It also answers a request that failed inside central (a database error, a bug) with a JSON 500 that
    carries these headers: Starlette's own 500 is sent from outside every middleware, without them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers.append(name, value)
                if scope.get("path", "").startswith("/api/") and "cache-control" not in headers:
                    headers.append("Cache-Control", "no-store")  # a shared shop PC or proxy keeps no store's figures
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            if started:  # a stream that broke half-way: nothing left to answer
                raise
            log.exception("%s %s failed", scope.get("method", ""), scope.get("path", ""))
            body = json.dumps({"detail": "internal error; the central log has the details"}).encode()
            await with_headers({"type": "http.response.start", "status": 500,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode())]})
            await with_headers({"type": "http.response.body", "body": body})


def install_security_headers(app: FastAPI) -> None:
    app.add_middleware(_SameOriginWrites)
    app.add_middleware(_SecurityHeaders)  # added last: outermost, so the refusals below carry the headers too


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _SameOriginWrites:
    """Refuses a state-changing request (login, logout) that the browser says comes from another origin
    (Sec-Fetch-Site, else Origin against Host). SameSite=Strict does not cover this: another web app on the same
    host (another port) is the same site, its form posts carry the session cookie, and one logged the manager
    out. Clients that send neither header (scripts with a token) are not browsers and pass."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method", "GET") not in _SAFE_METHODS and _foreign(scope):
            body = json.dumps({"detail": "refused: a request from another web page"}).encode()
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _foreign(scope: Scope) -> bool:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")  # "none": typed by the user / a bookmark
    origin = headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc.lower() != headers.get("host", "").lower()


def install_query_errors(app: FastAPI) -> None:
    """A request FastAPI cannot decode is a 422 naming the parameter, with the value cut short."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ()))
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
        return JSONResponse({"detail": "; ".join(problems)[:500]}, status_code=422)
