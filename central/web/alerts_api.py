"""GET /api/alerts: the alerts of the stores this user may see (fleet-wide ones for all-store users only)."""
from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Depends, Query

from central.alerts import list_alerts, visible
from central.auth import User
from central.store import _SqlStore


def alerts_router(store: _SqlStore, current_user: Callable[..., User]) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["alerts"])

    @router.get("/alerts")
    def alerts(open_only: bool = Query(False, alias="open", description="Only problems not solved yet."),
               user: User = Depends(current_user)) -> list[dict[str, Any]]:
        """Newest first: kiosk offline, camera down, spool growing, rejected messages, mood/feedback drops."""
        return [a.as_json() for a in list_alerts(store, open_only, user=user) if visible(a, user)]

    return router
