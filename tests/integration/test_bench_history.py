"""bench-history is honest: its direct rollup rows equal what central's rollup makes of the same windows,
and the command runs end to end on a small fill (SQLite; the figures need the full size)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from devtools.bench_history import _ids, _insert_rollups, day_arrays, records_of, rollup_rows_of
from central.rollup import Rollup
from central.store import open_store

pytestmark = pytest.mark.timeout(120)


def test_direct_rollups_equal_the_real_rollup(tmp_path: Path) -> None:
    day = datetime(2026, 3, 2, tzinfo=timezone.utc)
    arrays, ids = day_arrays(2, 3, day, np.random.default_rng(1)), _ids(2, 3)
    real, direct = open_store(f"sqlite:///{tmp_path / 'a.db'}"), open_store(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        real.insert_windows(records_of(arrays, ids, day, {}))
        Rollup(real).roll()
        _insert_rollups(direct, *rollup_rows_of(arrays, ids, day))
        for sql in ("SELECT store_id, kiosk_id, width_s, start, windows, people, people_max, round(mood_weighted, 6), "
                    "fb_happy, fb_neutral, fb_unhappy FROM rollups ORDER BY 1, 2, 3, 4",
                    "SELECT * FROM rollup_counts WHERE n > 0 ORDER BY 1, 2, 3, 4, 5"):
            assert real._fetch(real._conn(), sql) == direct._fetch(direct._conn(), sql)
    finally:
        real.close()
        direct.close()


def test_bench_history_command_small(capsys: pytest.CaptureFixture) -> None:
    from kiosk.cli import main

    assert main(["bench-history", "--db", "sqlite", "--stores", "2", "--kiosks-per-store", "2", "--days", "3",
                 "--raw-days", "1", "--rounds", "1", "--no-browser", "--json", "--log-level", "WARNING"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["windows_through_real_path"] == 2 * 2 * 1440 * 2 and result["raw_windows_kept"] == 4 * 1440
    for key in ("month_view", "heatmap_year", "compare_month_all_stores"):
        assert result[key]["median_ms"] > 0
    assert main(["bench-history", "--days", "0"]) == 2
