"""FastAPI app: login, the JSON API under /api (OpenAPI at /docs), SSE at /api/events, and the page at /."""
from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, time as dtime
from importlib import resources
from typing import Any, AsyncIterator, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from central.auth import LoginThrottle, Sessions, User, UserDirectory
from central.history import History
from central.store import Store
from central.store_names import StoreNames
from central.web.events import CLOSE, EventHub
from central.web.hardening import STREAMS_PER_USER, install_query_errors, install_security_headers, page_csp
from central.web.alerts_api import alerts_router
from central.web.body_limit import BodyLimit
from central.web.stream_access import StillAllowed
from central.web.history_api import EARLIEST, LATEST, history_router

log = logging.getLogger(__name__)

SESSION_COOKIE = "mk_session"


class LoginRequest(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class UserOut(BaseModel):
    name: str
    stores: list[str] | None = Field(description="Store ids this user may see; null = every store.")


def create_app(
    store: Store,
    users: UserDirectory,
    hub: EventHub,
    stats: Callable[[], dict[str, Any]] | None = None,
    secure_cookies: bool = False,
    api_docs: bool = False,
    streams_per_user: int = STREAMS_PER_USER,
    history: History | None = None,
    store_names: StoreNames | None = None,
) -> FastAPI:
    """The dashboard app over one store; every /api route but /api/login needs a session cookie or bearer token.
    The OpenAPI pages (/docs, /openapi.json) exist only with `api_docs` (`moodkiosk central --api-docs`)."""
    app = FastAPI(
        title="moodkiosk central",
        version="1",
        description="Anonymous mood aggregates of the kiosks. Only aggregates: no images, no people, no cards.",
        docs_url="/docs" if api_docs else None, redoc_url=None, openapi_url="/openapi.json" if api_docs else None,
    )
    app.add_middleware(BodyLimit)  # inside the security headers: a 413 carries them too
    install_security_headers(app)
    install_query_errors(app)
    sessions = Sessions()
    history = history or History(store)  # type: ignore[arg-type]
    store_names = store_names or StoreNames()
    throttle = LoginThrottle()

    def current_user(request: Request) -> User:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(SESSION_COOKIE, "")
        user = None
        if token:
            session = sessions.get(token)
            user = users.session_user(session.name, session.credential) if session else users.by_token(token)
        if user is None:
            raise HTTPException(401, "log in or send Authorization: Bearer <token>",
                                headers={"WWW-Authenticate": "Bearer"})
        return user

    def allowed(user: User, store_id: str) -> None:
        if not user.may_see(store_id):
            raise HTTPException(403, f"user {user.name!r} may not see store {store_id!r}")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        html = resources.files("central.web").joinpath("static/dashboard.html").read_text(encoding="utf-8")
        return HTMLResponse(html, headers={"Cache-Control": "no-store", "Content-Security-Policy": page_csp(html)})

    @app.post("/api/login", response_model=UserOut, tags=["auth"])
    def login(body: LoginRequest, request: Request, response: Response) -> dict[str, Any]:
        """Check name and password; sets an HttpOnly session cookie. 429 after 5 failures in 10 minutes for
        one name from one address."""
        source = request.client.host if request.client else ""
        wait = throttle.reserve(body.username, source)
        if wait > 0:
            raise HTTPException(429, f"too many failed logins for {body.username!r}; try again in {wait:.0f} s",
                                headers={"Retry-After": str(int(wait) + 1)})
        user = users.authenticate(body.username, body.password)
        if user is None:
            log.warning("failed dashboard login for %r from %s", body.username[:64], source)
            raise HTTPException(401, "wrong user name or password")
        throttle.succeeded(body.username, source)
        credential = users.credential(user.name) or ""
        response.set_cookie(SESSION_COOKIE, sessions.create(user, credential), httponly=True, samesite="strict",
                            secure=secure_cookies, max_age=int(sessions.ttl_s))
        return user.as_json()

    @app.post("/api/logout", status_code=204, tags=["auth"])
    def logout(request: Request, response: Response) -> None:
        sessions.drop(request.cookies.get(SESSION_COOKIE, ""))
        response.delete_cookie(SESSION_COOKIE)

    @app.get("/api/me", response_model=UserOut, tags=["auth"])
    def me(user: User = Depends(current_user)) -> dict[str, Any]:
        return user.as_json()

    @app.get("/api/stores", tags=["mood"])
    def stores(user: User = Depends(current_user)) -> list[str]:
        """Store ids with data that this user may see."""
        return [s for s in store.store_ids() if user.may_see(s)]

    @app.get("/api/kiosks", tags=["mood"])
    def kiosks(store_id: str | None = Query(None, alias="store"), user: User = Depends(current_user)) -> list[dict[str, Any]]:
        """Per kiosk: online/offline, last health, latest window (mood index, people, expression mix, feedback)."""
        if store_id is not None:
            allowed(user, store_id)
            wanted: list[str] | None = [store_id]
        else:
            wanted = None if user.stores is None else sorted(user.stores)
        return [k.as_json() for k in store.kiosks(wanted)]

    @app.get("/api/stores/{store_id}/day", tags=["mood"])
    def day(
        store_id: str,
        on: date | None = Query(None, alias="date", description="Day (YYYY-MM-DD); default today in `tz`."),
        tz: str = Query("UTC", description="IANA time zone the day is cut in, e.g. Europe/Berlin."),
        bucket_s: int = Query(900, ge=60, le=86400, description="Chart bucket width in seconds."),
        user: User = Depends(current_user),
    ) -> dict[str, Any]:
        """A store's day: buckets of people, people-weighted mood index and feedback; totals and expression mix."""
        allowed(user, store_id)
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Etc" is a folder: IsADirectoryError
            raise HTTPException(422, f"tz {tz[:64]!r} is not an IANA time zone") from None
        the_day = on or datetime.now(zone).date()
        if not EARLIEST <= the_day <= LATEST:
            raise HTTPException(422, f"date {the_day} is outside {EARLIEST}..{LATEST}")
        if store_id not in store_names.names and store_id not in history.store_ids():  # as the period routes
            raise HTTPException(404, f"store {store_id[:64]!r} is not known to central")
        try:
            start = datetime.combine(the_day, dtime(0), zone).timestamp()
        except (OverflowError, ValueError, OSError):
            raise HTTPException(422, f"date {the_day} is out of range") from None
        summary = history.store_day(store_id, start, bucket_s)
        return {
            "store": store_id, "date": the_day.isoformat(), "tz": tz, "day_start": start,
            "bucket_s": summary.bucket_s,  # hourly for days past the raw retention
            "people": summary.people, "windows": summary.windows, "counts": dict(summary.counts),
            "feedback": dict(summary.feedback),
            "buckets": [{"start": b.start, "people": b.people, "mood_index": b.mood_index, "windows": b.windows,
                         "feedback": dict(b.feedback)} for b in summary.buckets],
        }

    @app.get("/api/stats", tags=["operations"])
    def collector_stats(user: User = Depends(current_user)) -> dict[str, Any]:
        """Collector counters (received, stored, duplicates, rejects by reason); central IT users only."""
        if user.stores is not None:
            raise HTTPException(403, "collector statistics are for users with access to every store")
        return dict(stats() if stats else {}, sse_clients=hub.subscribers)

    @app.get("/api/events", tags=["mood"], response_class=StreamingResponse)
    async def events(request: Request, user: User = Depends(current_user)) -> StreamingResponse:
        """Server-sent events: `windows` (a JSON list of stored windows), `kiosk` (status/health changes),
        `resync` (the client fell behind and should reload). Only the user's stores."""
        if hub.streams_of(user.name) >= streams_per_user:
            raise HTTPException(429, f"user {user.name!r} already has {streams_per_user} live streams open")
        sub = hub.subscribe(user)
        access = StillAllowed(lambda: current_user(request), user)

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n: connected\n\n"
                while True:
                    if not access():  # removed, moved to other stores, password changed, token revoked
                        return
                    if sub.lagging and sub.queue.empty():
                        yield "event: resync\ndata: {}\n\n"
                        return
                    try:
                        name, data = await asyncio.wait_for(sub.queue.get(), timeout=15)
                    except asyncio.TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield ": keep-alive\n\n"
                        continue
                    if name == CLOSE or not access():
                        return
                    yield f"event: {name}\ndata: {data}\n\n"
            finally:
                hub.unsubscribe(sub)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    app.include_router(history_router(store, history, store_names, current_user))
    app.include_router(alerts_router(store, current_user))  # type: ignore[arg-type]
    return app

