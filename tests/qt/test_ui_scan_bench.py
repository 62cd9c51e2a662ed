"""The scan -> offers painted measurement on the real kiosk window: sane figures, the right number of samples."""
from __future__ import annotations

import argparse
import json

from devtools import bench_offers
from devtools.scan_bench import ScanTarget, scan_to_offers_painted
from helpers.kiosk_ui import ANNA, CLARA, FELIX_LUHN, PORTRAIT

DEMO_TARGETS = [ScanTarget(ANNA, "Anna"), ScanTarget(CLARA, "Clara"), ScanTarget(FELIX_LUHN, "Felix"),
                ScanTarget("2900000000025", "Ben"), ScanTarget("2900000000056", "Emma")]


def test_wedge_scans_are_timed_until_the_greeting_is_painted(make_config, start_app):
    app = start_app(make_config(), PORTRAIT)
    latencies = scan_to_offers_painted(app.window, DEMO_TARGETS)
    assert len(latencies) == len(DEMO_TARGETS)
    assert all(0 < ms < 5000 for ms in latencies)
    assert app.window.current_screen() is app.window.attract  # each scan ended with "Done" / "skip"
    assert app.session.view.state.name == "ATTRACT"


def test_bench_offers_json_reports_both_paths_on_a_small_store(tmp_path, monkeypatch, qapp, capsys):
    monkeypatch.setenv("MOODKIOSK_CARD_HASH_KEY", "bench-test-key-0123456789abcdef")
    parser = argparse.ArgumentParser()
    bench_offers.add_arguments(parser)
    args = parser.parse_args(["--customers", "200", "--purchases", "4000", "--scans", "20", "--ui-scans", "4",
                              "--dir", str(tmp_path), "--ui", "--json"])
    code = bench_offers.main(args)
    result = json.loads(capsys.readouterr().out)
    assert code == (0 if result["meets_target"] else 1)
    assert result["store"]["customers"] == 200
    assert result["scan_to_view"]["samples"] == 20
    assert set(result["scan_to_painted"]) == {"1080x1920", "1920x1080"}
    for figures in [result["scan_to_view"], *result["scan_to_painted"].values()]:
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert all(figures["samples"] == 4 for figures in result["scan_to_painted"].values())
