"""uvicorn server for the dashboard that ends the open SSE streams before it shuts down."""
from __future__ import annotations

import socket

import uvicorn

from central.web.events import EventHub


class DashboardServer(uvicorn.Server):
    """Without closing the streams first, uvicorn waits for them and then cancels them with an error."""

    def __init__(self, config: uvicorn.Config, hub: EventHub) -> None:
        super().__init__(config)
        self._hub = hub

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._hub.close()
        await super().shutdown(sockets)
