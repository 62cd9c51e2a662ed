"""History API over real HTTP (uvicorn, SQLite file, mosquitto): periods, heat map, comparison, CSV, store
names, and clear 4xx answers for bad ranges, unknown stores and stores the user may not see."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from central.errors import CentralError
from central.rollup import RetentionSettings, Rollup
from central.store_names import load_store_names
from helpers.central import PASSWORD, CentralServer
from helpers.history_data import records
from helpers.mosquitto import MosquittoBroker, mosquitto  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(90)
MARCH = datetime(2026, 3, 2, tzinfo=timezone.utc)


@pytest.fixture
def central(mosquitto: MosquittoBroker, tmp_path: Path):
    names_file = tmp_path / "stores.toml"
    names_file.write_text('[stores]\ns1 = "Berlin Mitte"\ns2 = "=HYPERLINK(1)"\ns9 = "Opening soon"\n')
    server = CentralServer(mosquitto.url, f"sqlite:///{tmp_path / 'central.db'}", tmp_path,
                           store_names=load_store_names(names_file)).start()
    try:
        yield server
    finally:
        server.stop()


def _client(base: str, user: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10)
    assert client.post("/api/login", json={"username": user, "password": PASSWORD}).status_code == 200
    return client


def test_periods_heatmap_compare_csv_and_bad_input(central: CentralServer) -> None:
    data = (records("s1", "k1", MARCH + timedelta(hours=9), 90) + records("s1", "k2", MARCH + timedelta(days=8), 60, 2)
            + records("s1", "k1", MARCH - timedelta(days=5), 30, 1) + records("s2", "k1", MARCH, 45, 3))
    central.store.insert_windows(data)
    Rollup(central.store, RetentionSettings()).roll()
    manager, admin = _client(central.http, "s1mgr"), _client(central.http, "admin")

    assert manager.get("/api/store-names").json() == [{"id": "s1", "name": "Berlin Mitte"}]
    assert [s["id"] for s in admin.get("/api/store-names").json()] == ["s1", "s2", "s9"]

    month = manager.get("/api/stores/s1/period", params={"period": "month", "date": "2026-03-15", "tz": "UTC"})
    assert month.status_code == 200, month.text
    body = month.json()
    assert body["store_name"] == "Berlin Mitte" and (body["from"], body["to"]) == ("2026-03-01", "2026-03-31")
    assert body["totals"]["windows"] == 150 and len(body["buckets"]) == 31
    assert body["previous"]["from"] == "2026-02-01" and body["previous"]["totals"]["windows"] == 30
    assert set(body["kiosks"]) == {"k1", "k2"} and body["kiosks"]["k2"]["totals"]["windows"] == 60
    for key in ("people_seen", "people_per_window", "busiest_window_people", "feedback_share",
                "presses_per_100_people", "feedback_score", "disagree"):
        assert key in body["totals"]
    week = manager.get("/api/stores/s1/period", params={"period": "week", "date": "2026-03-04"}).json()
    assert (week["from"], week["to"], week["totals"]["windows"]) == ("2026-03-02", "2026-03-08", 90)

    heat = manager.get("/api/stores/s1/heatmap", params={"from": "2026-03-01", "to": "2026-03-31", "tz": "UTC"}).json()
    assert {(c["weekday"], c["hour"]) for c in heat["cells"]} == {(0, 9), (0, 10), (1, 0)}

    cmp_admin = admin.get("/api/compare", params={"period": "month", "date": "2026-03-01"}).json()
    assert [(s["store"], s["store_name"], s["totals"]["windows"]) for s in cmp_admin["stores"]] == [
        ("s1", "Berlin Mitte", 150), ("s2", "=HYPERLINK(1)", 45), ("s9", "Opening soon", 0)]
    assert [s["store"] for s in manager.get("/api/compare").json()["stores"]] == ["s1"]

    got = admin.get("/api/stores/s2/period.csv", params={"period": "month", "date": "2026-03-01"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0][:4] == ["store", "store_name", "bucket", "start_utc"] and len(rows) == 1 + 31
    assert rows[2][1] == "'=HYPERLINK(1)"  # a spreadsheet must not run a store name as a formula
    assert sum(int(r[4]) for r in rows[1:]) == 45
    cmp_csv = list(csv.reader(io.StringIO(admin.get("/api/compare.csv", params={"period": "month",
                                                                                "date": "2026-03-01"}).text)))
    assert [r[0] for r in cmp_csv[1:]] == ["s1", "s2", "s9"]

    def status(client: httpx.Client, path: str, **params: str) -> tuple[int, str]:
        response = client.get(path, params=params)
        return response.status_code, response.text

    assert status(manager, "/api/stores/s2/period")[0] == 403
    assert status(manager, "/api/stores/nowhere/period")[0] == 403  # no hint whether another store exists
    assert status(manager, "/api/stores/s2/heatmap")[0] == 403
    assert status(admin, "/api/stores/nowhere/period")[0] == 404
    code, text = status(manager, "/api/stores/s1/heatmap", **{"from": "2026-03-05", "to": "2026-03-01"})
    assert code == 422 and "reversed" in text
    code, text = status(manager, "/api/stores/s1/heatmap", **{"from": "2025-01-01", "to": "2026-03-01"})
    assert code == 422 and "at most 366" in text
    assert status(manager, "/api/stores/s1/period", period="year")[0] == 422
    assert status(manager, "/api/stores/s1/period", date="2026-02-30")[0] == 422
    code, text = status(manager, "/api/stores/s1/period", date="1900-01-01")
    assert code == 422 and "outside" in text
    assert status(manager, "/api/stores/s1/period", tz="Mars/Base")[0] == 422
    assert status(httpx.Client(base_url=central.http), "/api/compare")[0] == 401


def test_store_names_file_and_retention_flags_fail_clearly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.toml"
    for text, needle in (('[stores]\n"s 1" = "x"\n', "not a valid id"), ('[stores]\ns1 = ""\n', "printable text"),
                         ("[shops]\n", r"only \[stores\]"), ("[stores\n", "not valid TOML")):
        bad.write_text(text)
        with pytest.raises(CentralError, match=needle):
            load_store_names(bad)
    with pytest.raises(CentralError, match="cannot read"):
        load_store_names(tmp_path / "missing.toml")

    from central.auth import UserDirectory
    from kiosk.cli import main

    users = tmp_path / "users.json"
    UserDirectory(users).set_user("a", PASSWORD, ["*"])
    assert main(["central", "--users", str(users), "--raw-days", "0", "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--raw-days" in err[0], err
