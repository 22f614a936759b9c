"""The hydromet benchmark end to end on a tiny synthetic river chain, and on the shared data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from benchmarks import hydromet
from kendali.settings import Settings

START = datetime(2026, 1, 1, tzinfo=UTC)


def _write_chain(folder: Path, *, shared_header: bool) -> tuple[Path, Path]:
    """Two gauges, UP leads DOWN by 3 h; a flood at hour 100, a minor rise at hour 300."""
    hours = 400
    rng = np.random.default_rng(7)
    up = 50 + rng.normal(0, 1, hours).round()
    for start, height in ((100, 160), (300, 60), (200, 40)):
        up[start : start + 8] += height * np.hanning(8)
    down = 100 + np.roll(up - 50, 3) * 1.2
    levels = folder / "levels.csv"
    rows = ["timestamp,UP,DOWN,UP (cuaca)"]
    for h in range(hours):
        ts = (START + timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S")
        rows.append(f"{ts},{up[h]:.0f},{down[h]:.0f},Hujan")
    levels.write_text("\n".join(rows) + "\n")
    stations = folder / "stations.csv"
    if shared_header:
        stations.write_text(
            "Lokasi,Latitude,Longitude,Siaga 3,Siaga 2,Siaga 1\n"
            "UP,-6.6, 106.8,120,170,220\nDOWN,-6.4,106.8,200,260,330"
        )
    else:
        stations.write_text(
            "station,lat,lon,siaga3_cm,siaga2_cm,siaga1_cm,upstream,travel_min\n"
            "UP,-6.6,106.8,120,170,220,,\nDOWN,-6.4,106.8,200,260,330,UP,180\n"
        )
    return levels, stations


def test_bench_scores_a_synthetic_flood(tmp_path):
    levels, stations = _write_chain(tmp_path, shared_header=False)
    out = tmp_path / "out"
    assert hydromet.main([str(levels), str(stations), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    flood = summary["tiers"]["Siaga 2"]
    assert flood["events"] == 2  # the big wave at both gauges
    assert flood["alerted_before_peak"] == 2 and flood["median_lead_min"] >= 60
    down = next(e for e in flood["per_event"] if e["station"] == "DOWN")
    assert down["alert_basis"] == "upstream" and down["lead_min"] >= 180
    assert summary["method"]["links"] == {"DOWN": {"upstream": "UP", "travel_min": 180.0}}
    assert summary["method"]["ignored_columns"] == ["UP (cuaca)"]
    assert (out / "alerts.csv").read_text().startswith("time,station,state,severity")
    assert "| Siaga 2 | 2 | 2 |" in (out / "summary.md").read_text()


def test_shared_header_and_inferred_links(tmp_path):
    levels, stations = _write_chain(tmp_path, shared_header=True)
    out = tmp_path / "out"
    args = [str(levels), str(stations), "--out", str(out), "--infer-links"]
    assert hydromet.main([*args, "--calibration-months", "1"]) == 0
    links = json.loads((out / "summary.json").read_text())["method"]["links"]
    assert links == {"DOWN": {"upstream": "UP", "travel_min": 180.0}}


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    levels, stations = _write_chain(tmp_path, shared_header=False)
    args = [str(levels), str(stations), "--out", str(tmp_path / "o"), "--link", "DOWN=NOPE:60"]
    assert hydromet.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "kendali bench hydromet: links name unknown stations: NOPE"
    assert hydromet.main([str(tmp_path / "x.csv"), str(stations), "--out", "o"]) == 2


def test_shared_ciliwung_data_meets_the_issue_targets(tmp_path):
    folder = Path(Settings().data_dir) / "hydromet" / "jakarta_ciliwung_pintu_air_2021-10_2025-05"
    if not folder.exists():
        pytest.skip(f"shared hydromet data not found at {folder}")
    args = [
        str(folder / "ciliwung_water_level_weather_hourly.csv"),
        str(folder / "stations_siaga_thresholds.csv"),
        *("--out", str(tmp_path), "--tz", "Asia/Jakarta", "--infer-links"),
        *("--documented", "2022-10-09/2022-10-10", "--documented", "2025-03-02/2025-03-04"),
    ]
    assert hydromet.main(args) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    flood = summary["tiers"]["Siaga 2"]
    assert flood["false_per_gauge_month"] <= 1.0
    assert flood["median_lead_min"] >= 30
    documented = [
        d for d in summary["documented_events"] if d["peak_siaga"] in ("Siaga 2", "Siaga 1")
    ]
    assert documented and all(d["lead_min"] and d["lead_min"] > 0 for d in documented)
    assert summary["signals"].get("fault:flat_line:open", 0) > 0  # forward-filled gaps
