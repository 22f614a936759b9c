"""Incident benchmark on a small synthetic series with labelled incidents."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from benchmarks import traffic

T0 = datetime(2026, 11, 2)  # noqa: DTZ001 (the series CSV holds local times without offset)
STEP = timedelta(minutes=15)
INCIDENTS = [("D1", 10 * 96 + 40), ("D2", 13 * 96 + 70), ("D3", 14 * 96 + 20)]


def write_series(folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(11)
    series, labels = folder / "series.csv", folder / "incidents.csv"
    blocked = {(d, i) for d, s in INCIDENTS for i in range(s, s + 4)}
    with series.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "D1", "D2", "D3"])
        for i in range(15 * 96):
            t = T0 + i * STEP
            peak = t.weekday() < 5 and 7 <= t.hour < 9
            row = [t.isoformat(sep=" ")]
            for d in ("D1", "D2", "D3"):
                occ = (35 if peak else 10) + rng.normal(0, 2)
                gap = d == "D2" and i % 97 == 0
                row.append("" if gap else f"{70.0 if (d, i) in blocked else occ:.1f}")
            w.writerow(row)
    with labels.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["start", "duration_min", "detector"])
        for d, s in INCIDENTS:
            w.writerow([(T0 + s * STEP).isoformat(sep=" "), 60, d])
    return series, labels


def test_labelled_incidents_are_detected_quickly_without_false_alarms(tmp_path, capsys):
    series, labels = write_series(tmp_path)
    out = tmp_path / "out"
    args = [str(series), str(labels), "--out", str(out), "--measure", "occupancy"]
    assert traffic.main([*args, "--tz", "Asia/Makassar"]) == 0
    lab = json.loads((out / "traffic.json").read_text())["labelled"]
    assert lab["detection_rate"] == 1.0
    assert lab["false_alarms_per_detector_day"] <= 0.2
    assert lab["mean_time_to_detect_intervals"] <= 3
    alerts = list(csv.DictReader((out / "alerts.csv").open()))
    assert {a["key"] for a in alerts if a["state"] == "open"} == {"atcs:D1", "atcs:D2", "atcs:D3"}
    assert "detected 3/3 visible (100%" in capsys.readouterr().out


def test_missing_input_is_a_one_line_error(tmp_path, capsys):
    assert traffic.main([str(tmp_path / "nope.csv"), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("kendali bench traffic: no such file")


def test_evaluate_counts_late_and_unrelated_alerts():
    from kendali.records import Signal

    t = datetime(2026, 1, 1, tzinfo=traffic.ZoneInfo("UTC"))

    def sig(key, minutes):
        return Signal("traffic", "incident", "traffic_incident", key, "e", "open",
                      t + timedelta(minutes=minutes), 0, 0, 1, "Minor", "x")  # fmt: skip

    labels = [traffic.Labelled(("A",), t, t + timedelta(minutes=30), t)]
    got = traffic.evaluate(
        [sig("atcs:A", 10), sig("atcs:A", 300), sig("atcs:B", 5)], labels, 2, 300
    )
    assert (got["detected"], got["false_alarms"], got["mean_time_to_detect_intervals"]) == (1, 2, 2)


def test_simulated_crashes_are_labelled_with_visibility_and_detected(tmp_path, capsys):
    out = tmp_path / "sim"
    assert traffic.main(["--sim", "3", "--crashes", "3", "--days", "2", "--out", str(out)]) == 0
    lab = json.loads((out / "traffic_sim.json").read_text())["3"]["labelled"]
    assert lab["incidents"] == 3 and 1 <= lab["visible"] <= 3
    assert lab["detection_rate"] >= 0.9 and lab["false_alarms_per_detector_day"] <= 0.2
    assert lab["mean_time_to_detect_intervals"] <= 3
    assert "| 3 | 3 |" in capsys.readouterr().out


NAB = Path(traffic.Settings().data_dir) / "nab"


@pytest.mark.skipif(not NAB.is_dir(), reason=f"NAB data not found at {NAB}")
def test_nab_traffic_windows_as_incidents(tmp_path, capsys):
    assert traffic.main(["--nab", str(NAB), "--out", str(tmp_path)]) == 0
    runs = json.loads((tmp_path / "traffic_nab.json").read_text())
    assert len(runs) == 7 and sum(r["labelled"]["incidents"] for r in runs.values()) == 14
    assert sum(r["labelled"]["detected"] for r in runs.values()) >= 9
    assert "| **all** | 14 | 14 |" in capsys.readouterr().out
