"""History routes: a store's day/week/month with the previous period, heat map, store comparison, CSV export."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse, Response

from central.auth import User
from central.history import History, HistoryError, Period, Totals, date_range, period_range
from central.offers_store import store_offer_days
from central.store import Store
from central.store_names import StoreNames
from contract.spreadsheet import spreadsheet_cell

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
_CSV_COLUMNS = ("store", "store_name", "bucket", "start_utc", "windows", "people_seen", "people_per_window",
                "busiest_window_people", "mood_index", "feedback_happy", "feedback_neutral", "feedback_unhappy",
                "feedback_presses", "presses_per_100_people", "feedback_score", "disagree")


def zone_of(tz: str) -> ZoneInfo:
    """The IANA zone `tz` names, or a 422 naming it."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Etc" is a folder: IsADirectoryError
        raise HTTPException(422, f"tz {tz!r} is not an IANA time zone") from None


def _day(value: date | None, zone: ZoneInfo, what: str) -> date:
    day = value or datetime.now(zone).date()
    if not EARLIEST <= day <= LATEST:
        raise HTTPException(422, f"{what} {day} is outside {EARLIEST}..{LATEST}")
    return day


def _csv_rows(store: str, name: str, points: Iterable[tuple[str, float, Totals]]) -> Iterable[list[Any]]:
    for label, start, t in points:
        j = t.as_json()
        yield [store, name, label, datetime.fromtimestamp(start, timezone.utc).isoformat().replace("+00:00", "Z"), j["windows"],
               j["people_seen"], j["people_per_window"], j["busiest_window_people"], j["mood_index"],
               t.happy, t.neutral, t.unhappy, j["feedback_presses"], j["presses_per_100_people"],
               j["feedback_score"], j["disagree"]]


def _csv_response(rows: Iterable[list[Any]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_CSV_COLUMNS)
    for row in rows:
        writer.writerow([spreadsheet_cell(v) for v in row])  # a store name may start a formula
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def history_router(store: Store, history: History, names: StoreNames,
                   current_user: Callable[..., User]) -> APIRouter:
    """The routes, sharing the app's authentication dependency."""
    router = APIRouter(prefix="/api", tags=["history"])

    def visible_store(store_id: str, user: User) -> str:
        """403 for a store the user may not see (checked first, so existence never leaks), 404 for unknown."""
        if not user.may_see(store_id):
            raise HTTPException(403, f"user {user.name!r} may not see store {store_id!r}")
        if store_id not in names.names and store_id not in history.store_ids():
            raise HTTPException(404, f"store {store_id!r} is not known to central")
        return store_id

    def visible_stores(user: User) -> list[str]:
        known = sorted(set(history.store_ids()) | set(names.names))
        return [s for s in known if user.may_see(s)]

    @router.get("/store-names")
    def store_names(user: User = Depends(current_user)) -> list[dict[str, str]]:
        """The user's stores with their display names (from central's --stores-file)."""
        return [{"id": s, "name": names.name(s)} for s in visible_stores(user)]

    def period_view(store_id: str, period: Period, on: date | None, tz: str, user: User) -> Any:
        visible_store(store_id, user)
        zone = zone_of(tz)
        return history.period(store_id, period, _day(on, zone, "date"), zone)

    @router.get("/stores/{store_id}/period")
    def period(
        store_id: str,
        period: Period = Query(Period.DAY, description="day (by hour), week (Mon-Sun, by day) or month (by day)"),
        on: date | None = Query(None, alias="date", description="Any day in the period; default today in `tz`."),
        tz: str = Query("UTC", description="IANA time zone days and hours are cut in."),
        user: User = Depends(current_user),
    ) -> Any:
        """A store's period with the previous one: buckets, per-kiosk trends, camera mood beside feedback."""
        view = period_view(store_id, period, on, tz, user)
        return JSONResponse(dict(view.as_json(), store_name=names.name(store_id)))  # plain JSON: no re-encoding

    @router.get("/stores/{store_id}/period.csv", response_class=Response)
    def period_csv(
        store_id: str, period: Period = Query(Period.DAY), on: date | None = Query(None, alias="date"),
        tz: str = Query("UTC"), user: User = Depends(current_user),
    ) -> Response:
        """The period's buckets as CSV (what the chart shows), one row per bucket."""
        view = period_view(store_id, period, on, tz, user)
        rows = _csv_rows(store_id, names.name(store_id), ((b.label if period is not Period.DAY else
                                                            f"{view.range.first} {b.label}", b.start, b.totals)
                                                           for b in view.buckets))
        return _csv_response(rows, f"{store_id}-{period.value}-{view.range.first}.csv")

    @router.get("/stores/{store_id}/heatmap")
    def heatmap(
        store_id: str,
        first: date | None = Query(None, alias="from", description="First day; default 8 weeks before `to`."),
        last: date | None = Query(None, alias="to", description="Last day (inclusive); default today in `tz`."),
        tz: str = Query("UTC"),
        user: User = Depends(current_user),
    ) -> Any:
        """Weekday x hour cells (camera mood, people seen per window, feedback) over at most 366 days."""
        visible_store(store_id, user)
        zone = zone_of(tz)
        end = _day(last, zone, "to")
        begin = _day(first, zone, "from") if first else end - timedelta(days=55)
        try:
            span = date_range(begin, end, zone)
        except HistoryError as exc:
            raise HTTPException(422, str(exc)) from None
        return JSONResponse(dict(history.heatmap(store_id, span).as_json(), store_name=names.name(store_id)))

    @router.get("/stores/{store_id}/offers")
    def offers(
        store_id: str,
        first: date = Query(..., alias="from", description="First day (kiosk-local days, as reported)."),
        last: date = Query(..., alias="to", description="Last day (inclusive)."),
        user: User = Depends(current_user),
    ) -> dict[str, Any]:
        """Per day: card and guest sessions, offers shown by rule and category, feedback after offers (sums of
        the kiosks' k-anonymous offers.v1 reports; counts below k never left the kiosks)."""
        visible_store(store_id, user)
        try:
            date_range(first, last, ZoneInfo("UTC"))
        except HistoryError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"store": store_id, "store_name": names.name(store_id), "from": first.isoformat(),
                "to": last.isoformat(), "days": [d.as_json() for d in store_offer_days(store, store_id, first, last)]}

    def comparison(period: Period, on: date | None, tz: str, user: User) -> tuple[list[str], Any, Any]:
        zone = zone_of(tz)
        day = _day(on, zone, "date")
        stores = visible_stores(user)
        return stores, history.compare(stores, period, day, zone), day

    @router.get("/compare")
    def compare(
        period: Period = Query(Period.WEEK), on: date | None = Query(None, alias="date"), tz: str = Query("UTC"),
        user: User = Depends(current_user),
    ) -> Any:
        """Every store the user sees, side by side: this period and the previous one (head office)."""
        _, rows, day = comparison(period, on, tz, user)
        return JSONResponse({"period": period.value, "date": day.isoformat(), "tz": tz, "stores": [
            {"store": s, "store_name": names.name(s), "totals": now.as_json(), "previous": before.as_json()}
            for s, now, before in rows]})

    @router.get("/compare.csv", response_class=Response)
    def compare_csv(
        period: Period = Query(Period.WEEK), on: date | None = Query(None, alias="date"), tz: str = Query("UTC"),
        user: User = Depends(current_user),
    ) -> Response:
        """The comparison as CSV: one row per store for this period (bucket = the period's first day)."""
        _, rows, day = comparison(period, on, tz, user)
        span = period_range(period, day, zone_of(tz))
        csv_rows = (row for s, now, _ in rows for row in _csv_rows(s, names.name(s), [(
            f"{period.value} from {span.first}", span.start, now)]))
        return _csv_response(csv_rows, f"compare-{period.value}-{span.first}.csv")

    return router
