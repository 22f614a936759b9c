"""Locating reports: coordinates, place names, zone names, names in the text, reasons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from geo.hull import buffered_hull
from geo.locate import Located, locate
from kendali.city import load_city
from kendali.records import Complaint
from kendali.settings import Settings

T = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.fixture(scope="module")
def city():
    return load_city(Settings().city)


def report(**kw):
    return Complaint("r", "112", T, kw.pop("text", ""), **kw)


def test_coordinates_win_and_get_a_zone(city):
    loc = locate(report(lat=-1.2735, lon=116.8365, place="Simpang Dam"), city)
    assert loc == Located(116.8365, -1.2735, "Balikpapan Kota", "coords")


def test_zone_name_gives_a_point_inside_the_zone(city):
    loc = locate(report(place="balikpapan timur"), city)
    assert loc.how == "zone" and loc.zone == "Balikpapan Timur"


def test_place_named_in_the_text(city):
    loc = locate(report(text="kecelakaan di simpang dam, dekat lampu merah"), city)
    assert loc.how == "text" and (loc.lon, loc.lat) == city.places["simpang dam"]


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"place": "Gang Kelinci"}, "unknown place 'Gang Kelinci'"),
        ({"lat": 0.0, "lon": 0.0}, "no known place"),
        ({"lat": -6.2, "lon": 106.8}, "outside Balikpapan"),
        ({"lat": float("nan"), "lon": 116.8}, "no known place"),
    ],
)
def test_reasons(city, kw, reason):
    out = locate(report(**kw), city)
    assert isinstance(out, str) and reason in out


def test_hull_buffer_is_in_metres():
    ring = buffered_hull([(116.83, -1.27)], 100)
    lons = [p[0] for p in ring]
    width_m = (max(lons) - min(lons)) * 111_320
    assert 190 < width_m < 201
    with pytest.raises(ValueError):
        buffered_hull([], 10)


def test_known_name_inside_a_free_address(city):
    loc = locate(report(place="Jl. Jend. Sudirman dekat Lapangan Merdeka no. 3"), city)
    assert loc.how == "text" and (loc.lon, loc.lat) == city.places["lapangan merdeka"]
