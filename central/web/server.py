"""uvicorn server for the dashboard: its settings in one place, and open SSE streams ended before shutdown."""
from __future__ import annotations

import socket

import uvicorn
from starlette.types import ASGIApp

from central.web.events import EventHub
from central.web.limits import REQUEST_DEADLINE_S
from central.web.request_deadline import with_deadline


def dashboard_config(app: ASGIApp, host: str, port: int, *, request_deadline_s: float = REQUEST_DEADLINE_S,
                     graceful_shutdown_s: int = 2, ssl_certfile: str | None = None,
                     ssl_keyfile: str | None = None) -> uvicorn.Config:
    """The one uvicorn configuration of the dashboard (central and the tests): h11 with a request deadline."""
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          http=with_deadline(request_deadline_s), timeout_graceful_shutdown=graceful_shutdown_s,
                          ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)


class DashboardServer(uvicorn.Server):
    """Without closing the streams first, uvicorn waits for them and then cancels them with an error."""

    def __init__(self, config: uvicorn.Config, hub: EventHub) -> None:
        super().__init__(config)
        self._hub = hub

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._hub.close()
        await super().shutdown(sockets)
