"""The demo city loads, is consistent, and the official boundaries load through the same setting."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kendali.city import CityError, load_city
from kendali.settings import Settings

SETTINGS = Settings()
OFFICIAL = Path(SETTINGS.data_dir) / "geo" / "balikpapan_kelurahan.geojson"


def test_demo_city_meets_the_brief():
    city = load_city(SETTINGS.city)
    assert len(city.detectors) >= 40
    assert len({d.intersection for d in city.detectors.values()}) >= 12
    rivers = [g for g in city.gauges.values() if g.kind == "river"]
    assert len(city.gauges) >= 6 and rivers
    assert all(g.siaga3_cm < g.siaga2_cm < g.siaga1_cm for g in rivers)
    assert len(city.zones) == 6
    assert str(city.tz) == "Asia/Makassar"
    for code in ("police", "satpolpp", "dishub", "damkar", "bpbd", "puspaga", "health"):
        assert code in city.agencies
    for det in city.detectors.values():
        assert city.zone_of(det.lon, det.lat), f"{det.id} lies outside every zone"
        if det.upstream:
            assert city.detectors[det.upstream].downstream == det.id


@pytest.mark.skipif(not OFFICIAL.exists(), reason=f"shared geography not found at {OFFICIAL}")
def test_official_kelurahan_load_through_the_zones_setting(tmp_path):
    folder = tmp_path / "city"
    shutil.copytree(SETTINGS.city, folder)
    toml = (folder / "city.toml").read_text()
    toml = toml.replace('zones = "zones.geojson"', f'zones = "{OFFICIAL}"')
    (folder / "city.toml").write_text(toml)
    city = load_city(folder)
    assert len(city.zones) == 34
    assert city.zone_of(116.8265, -1.2560)  # Pasar Pandansari lies in a kelurahan
    assert {z.parent for z in city.zones} >= {"Balikpapan Kota", "Balikpapan Tengah"}


def test_a_broken_city_file_names_the_file(tmp_path):
    folder = tmp_path / "city"
    shutil.copytree(SETTINGS.city, folder)
    (folder / "gauges.csv").write_text("station,name,kind,lat,lon\nX,X,lake,1,2\n")
    with pytest.raises(CityError, match=r"gauges\.csv line 2: kind must be river or rain"):
        load_city(folder)
