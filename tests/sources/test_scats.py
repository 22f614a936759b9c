"""SCATS export adapter: wide and long parsing, registry with links, paced replay."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from kendali.codec import decode_traffic
from kendali.settings import Settings
from sources import scats

SCATS = Path(Settings().data_dir) / "traffic" / "vicroads_scats_boroondara_2006-10"

WIDE = """scats_site,location,lat,lon,date,00:00,00:15,00:30
0970,WARRIGAL_RD N of HIGH STREET_RD,-37.867,145.091,2006-10-02,5,,7
0970,HIGH STREET_RD E OF WARRIGAL_RD,-37.867,145.092,2006-10-01,1,2,3
"""


def test_wide_export_gives_readings_in_time_order_with_gaps_skipped(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(WIDE)
    rs, refused = scats.read_wide(path)
    assert refused == [] and len(rs) == 5 and [r.ts for r in rs] == sorted(r.ts for r in rs)
    first = rs[0]
    assert (first.detector_id, first.approach, first.interval_s, first.volume) == (
        "SCATS-0970-E-HIGH_STREET_RD",
        "E",
        900,
        1.0,
    )
    assert first.ts.isoformat() == "2006-10-01T00:00:00+10:00"
    assert [r.volume for r in rs if r.approach == "N"] == [5.0, 7.0]


def test_long_export_accepts_detector_ids_and_all_measures(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text(
        "detector_id,timestamp,volume,occupancy,speed,interval_s\n"
        "D2,2026-11-27T08:05:00+08:00,10,5.5,40,300\nD1,2026-11-27 08:00:00,12,,,\n"
    )
    rs, refused = scats.read_long(path, scats.ZoneInfo("Asia/Makassar"))
    assert refused == []
    assert [(r.detector_id, r.interval_s, r.occupancy) for r in rs] == [
        ("D1", 900, None),
        ("D2", 300, 5.5),
    ]


def test_bad_cells_and_rows_are_refused_with_their_line_and_the_rest_is_read(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text(WIDE + "0971,BURKE_RD S OF BARKERS_RD,-37.8,145.0,2006-10-02,4,n/a,6\n0972,X\n")
    rs, refused = scats.read_wide(wide)
    assert len(rs) == 7
    assert refused[0].startswith("line 4, 2006-10-02 00:15: could not convert string to float")
    assert refused[1] == "line 5: 2 cells, the header has 8"
    long = tmp_path / "long.csv"
    long.write_text(
        "detector_id,timestamp,volume\nD1,2026-11-27T08:00:00+08:00,12\n"
        "D2,yesterday,3\nD3,2026-11-27T08:00:00+08:00,many\nD4\n"
    )
    rs, refused = scats.read_long(long, scats.ZoneInfo("Asia/Makassar"))
    assert [r.detector_id for r in rs] == ["D1"]
    assert [r.split(":")[0] for r in refused] == ["line 3", "line 4", "line 5"]
    assert "yesterday" in refused[0] and "many" in refused[1]


def test_a_file_without_the_needed_columns_is_refused_whole(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("site,when,volume\nS1,2026-11-27T08:00:00+08:00,3\n")
    with pytest.raises(ValueError, match="no column"):
        scats.read_long(path, scats.ZoneInfo("Asia/Makassar"))
    with pytest.raises(ValueError, match="scats_site, location, date"):
        scats.read_wide(path)


def test_replay_encodes_with_the_codec_and_paces_by_event_time():
    t = datetime(2006, 10, 1, tzinfo=scats.MELBOURNE)
    rs = [
        scats.TrafficReading("D", "S", "N", t.replace(minute=m), 900, 3.0, None, None)
        for m in (0, 15, 30)
    ]
    sent, waits, now = [], [], [0.0]
    n = scats.replay(
        rs, lambda k, v: sent.append((k, v)), speedup=450, clock=lambda: now[0], sleep=waits.append
    )
    assert n == 3 and waits == [2.0, 4.0]
    assert decode_traffic(sent[2][1], now=None) == rs[2] and sent[0][0] == b"D"
    assert scats.replay(rs, lambda k, v: None, sleep=waits.append) == 3 and len(waits) == 2


@pytest.mark.skipif(not SCATS.is_dir(), reason=f"SCATS export not found at {SCATS}")
def test_real_export_maps_onto_its_registry():
    dets = scats.scats_detectors(SCATS / "scats_locations.csv")
    assert len(dets) == 139
    linked = [d for d in dets.values() if d.upstream]
    assert linked and all(dets[d.upstream].downstream for d in linked)
    rs, refused = scats.read_wide(SCATS / "scats_volume_15min_wide.csv")
    assert refused == [] and len(rs) > 390_000 and {r.detector_id for r in rs} <= set(dets)


@pytest.mark.skipif(not SCATS.is_dir(), reason=f"SCATS export not found at {SCATS}")
def test_registry_round_trips_through_a_city_detectors_csv(tmp_path):
    from kendali.city import load_city

    dets = scats.scats_detectors(SCATS / "scats_locations.csv")
    assert scats.write_detectors_csv(dets, tmp_path / "detectors.csv") == 139
    ring = [[144.9, -37.95], [145.2, -37.95], [145.2, -37.75], [144.9, -37.75], [144.9, -37.95]]
    zone = {"type": "Feature", "properties": {"nama": "Boroondara", "kode": "B"},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}  # fmt: skip
    (tmp_path / "zones.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [zone]})
    )
    files = '[files]\ndetectors = "detectors.csv"\nzones = "zones.geojson"\n'
    (tmp_path / "city.toml").write_text(
        f'name = "Boroondara"\ntimezone = "Australia/Melbourne"\n{files}'
    )
    assert load_city(tmp_path).detectors == dets
