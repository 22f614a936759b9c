"""Call-centre CSV import: aliases, zones, pseudonyms, rejections with line numbers."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from kendali.settings import Settings
from sources.reports_csv import CsvRejected, parse_tz, read_reports, read_reports_csv

WITA = parse_tz("WITA")


def read(text: str, **kw):
    return list(read_reports(io.StringIO(text), WITA, source="t", **kw))


def test_aliases_and_local_times():
    [r] = read("Waktu,Latitude,Longitude,Kategori,Keterangan,Alamat\n"
               "27/11/2026 08:05,-1.27,116.83,kebakaran,asap tebal,Jl. Sudirman\n")  # fmt: skip
    assert r.ts.utcoffset() == timedelta(hours=8) and (r.ts.hour, r.ts.minute) == (8, 5)
    assert (r.category, r.text, r.place, r.lat, r.lon) == (
        "kebakaran", "asap tebal", "Jl. Sudirman", -1.27, 116.83
    )  # fmt: skip


def test_explicit_offsets_win_over_the_default_zone():
    [r] = read("created_at,text\n2026-11-27T08:05:00+07:00,x\n")
    assert r.ts.utcoffset() == timedelta(hours=7)


def test_reporter_is_pseudonymised_and_required_key():
    text = "created_at,phone,text\n2026-11-27 08:05,+62 812-1111-2222,banjir\n"
    [r] = read(text, pseudonym_key=Settings().pseudonym_key)
    assert r.reporter.startswith("rp_") and "1111" not in repr(r)
    [bad] = read(text)
    assert isinstance(bad, CsvRejected) and "pseudonym key" in bad.reason


def test_bad_rows_are_rejected_with_their_line():
    rows = read("created_at,lat,lon\n2026-11-27 08:05,abc,116.8\n2026-11-27 08:06,-91,116.8\n")
    assert rows == [
        CsvRejected(2, "lat: 'abc' is not a number"),
        CsvRejected(3, "lat: -91.0 is out of range"),
    ]


def test_half_a_coordinate_is_no_coordinate():
    [r] = read("created_at,lat,lon,place\n2026-11-27 08:05,-1.27,,Simpang Dam\n")
    assert (r.lat, r.lon, r.place) == (None, None, "Simpang Dam")


def test_missing_time_column_is_an_error():
    with pytest.raises(ValueError, match="no time column"):
        read("lat,lon\n1,2\n")


@pytest.mark.parametrize("spec", ["Mars/Olympus", "UTC+x"])
def test_unknown_zone(spec):
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_tz(spec)


def test_real_petabencana_file_reads_whole():
    path = Path(Settings().data_dir) / "complaints/petabencana_jakarta_2017-02/reports.csv"
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    rows = list(read_reports_csv(path, parse_tz("UTC+7")))
    assert len(rows) == 1204 and not any(isinstance(r, CsvRejected) for r in rows)
    assert len({r.id for r in rows}) == 1204


def test_us_311_export_times_and_columns():
    [r] = read(
        "Created Date,Complaint Type,Descriptor,Latitude,Longitude\n"
        "01/31/2023 11:59:00 PM,Noise - Residential,Loud Music/Party,40.7,-73.9\n"
    )
    assert (r.ts.month, r.ts.day, r.ts.hour) == (1, 31, 23)
    assert (r.category, r.text, r.lat) == ("Noise - Residential", "Loud Music/Party", 40.7)
