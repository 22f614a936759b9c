"""The wall's own endpoints: page headers, assets, city layers, series, freshness, tile figures."""

from __future__ import annotations

import dataclasses
import time

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.routers.wall import content_security_policy
from kendali.city import load_city
from tests.browser.conftest import incident

pytestmark = pytest.mark.integration


@pytest.fixture
def client(isolated_settings):
    with TestClient(create_app(isolated_settings)) as c:
        yield c


def test_page_and_assets_carry_strict_headers(client):
    page = client.get("/wall")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers["content-security-policy"] == content_security_policy()
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in page.text.replace('<script type="module" src="/wall/wall.js">', "")
    script = client.get("/wall/wall.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    for bad in ("nope.js", "wall.html", ".hidden.js", "..%2Fmain.py", "wall.py"):
        assert client.get(f"/wall/{bad}").status_code == 404, bad


def test_tile_server_is_allowed_for_images_only(isolated_settings):
    settings = dataclasses.replace(
        isolated_settings,
        api=dataclasses.replace(
            isolated_settings.api, tile_url="http://tiles.lan:8080/{z}/{x}/{y}.png"
        ),
    )
    with TestClient(create_app(settings)) as c:
        csp = c.get("/wall").headers["content-security-policy"]
        assert "img-src 'self' data: http://tiles.lan:8080;" in csp
        assert "connect-src 'self';" in csp
        assert c.get("/api/city").json()["tile_url"].startswith("http://tiles.lan:8080/")


def test_city_layers(client, isolated_settings):
    city = load_city(isolated_settings.city)
    doc = client.get("/api/city").json()
    assert doc["tz"] == "Asia/Makassar" and doc["center"] == list(city.center)
    assert len(doc["zones"]["features"]) == len(city.zones)
    assert len(doc["detectors"]["features"]) == len(city.detectors)
    assert {f["properties"]["id"] for f in doc["gauges"]["features"]} == set(city.gauges)
    assert len(doc["flood_areas"]["features"]) == len(city.flood_areas)
    assert doc["agencies"]["damkar"].startswith("Pemadam")
    assert doc["endpoints"] == {"kpis": True, "history": True}  # both in the app since issue 6


def test_series_and_freshness(client, isolated_settings, inject):
    inject.sensors()
    series = client.get("/api/series/atcs:BPN-A01-EB", params={"limit": 5}).json()
    times = [p["ts"] for p in series["points"]]
    assert len(times) == 5 and times == sorted(times)
    assert set(series["points"][-1]["values"]) == {"occupancy", "speed"}
    assert client.get("/api/series/atcs:NOPE").json()["points"] == []
    rows = {r["source"]: r for r in client.get("/api/freshness").json()["sources"]}
    assert not rows["atcs"]["stale"] and rows["atcs"]["age_s"] < 60
    assert rows["hydromet"]["stale"] and rows["hydromet"]["age_s"] > 3 * 3600 - 60


def test_a_source_that_never_delivered_is_stale(client):
    rows = {r["source"]: r for r in client.get("/api/freshness").json()["sources"]}
    assert rows["atcs"]["stale"] and rows["atcs"]["age_s"] is None


def test_figures_count_open_incidents_per_agency_and_the_last_hour(client, inject):
    inject.write(incident(0), incident(1), incident(3, status="resolved"), incident(30))
    figures = client.get("/api/wall/figures").json()
    # INC 0 and 30 are fires (damkar, police, health), INC 1 a flood (bpbd, dishub, satpolpp)
    assert figures["open"] == 3
    assert figures["open_by_agency"]["damkar"] == 2 and figures["open_by_agency"]["bpbd"] == 1
    assert "police" in figures["open_by_agency"] and "pupr" not in figures["open_by_agency"]
    assert figures["last_hour"] == 3  # INC 30 was first seen 90 minutes ago
    assert abs(figures["now"] - time.time()) < 60


def test_figures_skip_faults(client, inject):
    inject.write(dataclasses.replace(incident(2), id="FAULT-1", kind="fault"))
    figures = client.get("/api/wall/figures").json()
    assert figures["open"] == 0 and figures["last_hour"] == 0
