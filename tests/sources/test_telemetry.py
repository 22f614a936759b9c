"""Telemetry adapter: wide and long CSV, JSON, rejected rows, file and file-URL pulls."""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path

import orjson
import pytest

from kendali.settings import Settings
from sources.telemetry import TelemetryError, parse_telemetry, pull, read_telemetry

WIB = timezone(timedelta(hours=7))
WIDE = b"""Tanggal,Katulampa (air),Katulampa (cuaca),Depok (air),ARG (hujan)
2022-10-09 19:00:00,60,Hujan,100,12.5
2022-10-09 20:00:00,190,Hujan,,3
not a time,1,Hujan,2,3
2022-10-09 21:00:00,200,Mendung,200,0
"""


def test_wide_csv_levels_rain_and_ignored_text_columns():
    t = parse_telemetry(WIDE, "csv", WIB)
    assert t.ignored_columns == ("Katulampa (cuaca)",)
    assert len(t.rejected) == 1 and t.rejected[0].startswith("line 4: bad time")
    levels = [(r.station, r.level_cm) for r in t.readings if r.kind == "river"]
    assert levels == [
        ("Depok", 100.0),
        ("Katulampa", 60.0),
        ("Katulampa", 190.0),
        ("Depok", 200.0),
        ("Katulampa", 200.0),
    ]
    rain = [r.rain_mm for r in t.readings if r.kind == "rain"]
    assert rain == [12.5, 3.0, 0.0]
    assert all(r.ts.utcoffset() == timedelta(hours=7) and r.interval_s == 3600 for r in t.readings)


def test_long_csv_and_json_agree():
    csv_text = (
        b"station,ts,level_cm,rain_mm,interval_s\n"
        b"G1,2026-11-27T14:00:00+08:00,120,,900\n"
        b"G1,2026-11-27T14:15:00+08:00,135,4,900\n"
        b"G2,2026-11-27T14:15:00+08:00,,,900\n"
    )
    from_csv = parse_telemetry(csv_text, "csv", WIB)
    objects = [
        {"station": "G1", "ts": "2026-11-27T14:00:00+08:00", "level_cm": 120, "interval_s": 900},
        {
            "station": "G1",
            "ts": "2026-11-27T14:15:00+08:00",
            "level_cm": 135,
            "rain_mm": 4,
            "interval_s": 900,
        },
        {"station": "G2", "ts": "2026-11-27T14:15:00+08:00", "interval_s": 900},
    ]
    from_json = parse_telemetry(orjson.dumps({"readings": objects}), "json", WIB)
    assert from_csv.readings == from_json.readings
    assert [r.kind for r in from_csv.readings] == ["river", "combined"]
    assert "neither level_cm nor rain_mm" in from_csv.rejected[0]
    assert len(from_json.rejected) == 1


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        (b"a,b\n1,2\n", "csv", "no time column"),
        (b"{", "json", "not JSON"),
        (b'{"x": 1}', "json", "must be a list"),
        (b"", "xml", "unknown telemetry format"),
    ],
)
def test_unreadable_telemetry_raises(data, fmt, message):
    with pytest.raises(TelemetryError, match=message):
        parse_telemetry(data, fmt, WIB)


def test_pull_from_path_and_file_url(tmp_path: Path):
    path = tmp_path / "levels.json"
    path.write_bytes(b'[{"station": "G1", "time": "2026-11-27 14:00", "level_cm": 50}]')
    by_path, by_url = pull(str(path), WIB), pull(path.as_uri(), WIB)
    assert by_path == by_url and by_path.readings[0].ts.utcoffset() == timedelta(hours=7)
    with pytest.raises(TelemetryError, match="unsupported URL scheme"):
        pull("gopher://example.org/x", WIB)
    with pytest.raises(TelemetryError, match="cannot read"):
        read_telemetry(tmp_path / "missing.csv", WIB)


def test_shared_ciliwung_file_reads_as_is():
    folder = Path(Settings().data_dir) / "hydromet" / "jakarta_ciliwung_pintu_air_2021-10_2025-05"
    path = folder / "ciliwung_water_level_weather_hourly.csv"
    if not path.exists():
        pytest.skip(f"shared hydromet data not found at {folder}")
    t = read_telemetry(path, WIB)
    assert {r.station for r in t.readings} == {"Katulampa", "Depok", "Manggarai"}
    assert len(t.ignored_columns) == 3 and not t.rejected
