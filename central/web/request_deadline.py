"""A deadline for receiving a whole HTTP request, which uvicorn does not have (slow-client defence).

uvicorn's keep-alive timer is cancelled by every byte that arrives, and no timer covers a request while it
is being sent: a client that sends one header byte every few seconds holds its connection (a file
descriptor, a buffer) for ever, and a few thousand such clients starve the dashboard ("slowloris"). With
this protocol a connection whose request is not complete `deadline_s` after the connection opened, or after
the previous response ended, is closed. Once a request is in, no deadline runs: a live-mood stream (SSE)
may stay open for hours."""
from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from central.web.limits import REQUEST_DEADLINE_S

log = logging.getLogger(__name__)
_RECEIVED = (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR)  # the client's side of h11: nothing more to read


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request does not arrive in time."""

    deadline_s: float = REQUEST_DEADLINE_S
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in _RECEIVED:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm()  # waiting for the next request on a kept-alive connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.deadline_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state in _RECEIVED:
            return
        log.debug("closing a connection from %s: no whole request within %.0f s", self.client, self.deadline_s)
        self.transport.close()


def with_deadline(deadline_s: float) -> type[DeadlineH11Protocol]:
    """The protocol class to give `uvicorn.Config(http=...)`, with its own deadline."""
    return type("DeadlineH11Protocol", (DeadlineH11Protocol,), {"deadline_s": deadline_s})
