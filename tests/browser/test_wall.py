"""The monitor wall in a real headless Chromium, against the API and Redis of the test session.

Incidents are written into Redis exactly as the dataflow's sink writes them (the sink's own
partition, hence its Lua upsert), so the page sees what it would see in production.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import redis

from kendali.records import Incident
from kendali.store import Keys
from sinks.redis_incidents import RedisIncidentSink
from sinks.redis_series import RedisSeriesSink, SensorPoint

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SCENES = [
    ("fire", "Extreme", "Balikpapan Kota", 116.835, -1.272, ["damkar", "police", "health"]),
    ("flood", "Severe", "Balikpapan Tengah", 116.869, -1.247, ["bpbd", "dishub", "satpolpp"]),
    ("congestion", "Moderate", "Balikpapan Selatan", 116.880, -1.262, ["dishub", "police"]),
    ("traffic_accident", "Severe", "Balikpapan Kota", 116.842, -1.2705, ["police", "dishub"]),
    ("fallen_tree", "Minor", "Balikpapan Utara", 116.860, -1.205, ["bpbd", "dishub", "pupr"]),
]
EVIDENCE = {
    "fire": ["report:R-101", "report:R-102"],
    "flood": ["gauge:AMPAL-MTH@{ts}", "gauge:AMPAL-HULU@{ts}"],
    "congestion": ["atcs:BPN-A02-EB@{ts}"],
    "traffic_accident": ["atcs:BPN-A01-EB@{ts}", "atcs:BPN-A02-EB@{ts}"],
}


def incident(n: int, version: int = 1, *, scene: int | None = None, status: str = "new"):
    category, severity, zone, lon, lat, agencies = SCENES[
        n % len(SCENES) if scene is None else scene
    ]
    now = datetime.now(UTC)
    ts = now.isoformat()
    return Incident(
        id=f"INC-WALL-{n:03d}",
        version=version,
        kind="incident",
        category=category,
        status=status,
        severity=severity,
        urgency="Immediate",
        certainty="Likely",
        lat=lat + 0.002 * (n // len(SCENES)),
        lon=lon,
        zone=zone,
        agencies=tuple(agencies),
        evidence=tuple(e.format(ts=ts) for e in EVIDENCE.get(category, [])),
        sources=("test",),
        first_seen=now - timedelta(minutes=3 * n),
        last_seen=now,
        score=0.9,
        explanation=f"{category.replace('_', ' ').title()} #{n} near {zone}",
    )


class Injector:
    """Writes incidents, sensor series and freshness through the real sinks' partitions."""

    def __init__(self, settings):
        url, prefix = settings.redis.url, settings.redis.prefix
        self.incidents = RedisIncidentSink(url, prefix).build("wall-test", 0, 1)
        self.series = RedisSeriesSink(url, prefix, min_gap_s=0.0).build("wall-test", 0, 1)

    def write(self, *items: Incident) -> None:
        self.incidents.write_batch(list(items))

    def sensors(self) -> None:
        """One hour of five-minute readings for the sensors named in the evidence."""
        now = time.time()
        for k in range(12, -1, -1):
            ts = now - 300 * k
            self.series.write_batch(
                [
                    SensorPoint(
                        "atcs",
                        f"atcs:BPN-A0{d}-EB",
                        ts,
                        {"occupancy": 12 + 4 * (12 - k) * d, "speed": 48 - 3 * (12 - k)},
                    )
                    for d in (1, 2)
                ]
                + [
                    SensorPoint(
                        "hydromet",
                        f"gauge:{g}",
                        ts - 3600 * 3,
                        {"level_cm": 120 + 9 * (12 - k), "rain_mm": 4.0},
                    )
                    for g in ("AMPAL-MTH", "AMPAL-HULU")
                ]
            )

    def close(self) -> None:
        self.incidents.close()
        self.series.close()


@pytest.fixture
def inject(isolated_settings):
    injector = Injector(isolated_settings)
    yield injector
    injector.close()


def rows(browser, incident_id: str) -> int:
    return browser.evaluate(
        f"document.querySelectorAll('#feed [data-id=\"{incident_id}\"]').length"
    )


def viewer_token(settings) -> str | None:
    """A read-only bearer token once tokens exist (issue 6); before that the API needs none."""
    try:
        from kendali.tokens import create_token
    except ImportError:
        return None
    client = redis.Redis.from_url(settings.redis.url)
    try:
        return create_token(client, Keys(settings.redis.prefix), "viewer", name="wall")[0]
    finally:
        client.close()


def open_wall(browser, api, query: str = "") -> dict:
    token = viewer_token(api.settings)
    if token:
        query += f"{'&' if query else '?'}access_token={token}"
    reply = browser.call("goto", url=f"{api.base}/wall{query}")
    browser.wait("document.body.dataset.ready === '1'", 10, "the wall's first load")
    return reply


def assert_only_loopback(browser) -> None:
    external = [
        u
        for u in browser.call("log")["requests"]
        if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert external == [], f"the page reached beyond the API: {external}"


def test_wall_shows_live_incidents_without_errors(browser, api, inject, artefacts):
    inject.sensors()
    inject.write(*(incident(n) for n in range(1, 5)))
    reply = open_wall(browser, api, "?lang=en")
    csp = reply["headers"]["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert reply["headers"]["x-content-type-options"] == "nosniff"
    assert reply["headers"]["referrer-policy"] == "no-referrer"
    assert browser.evaluate("document.querySelectorAll('#feed .row').length") == 4
    assert browser.evaluate("document.querySelectorAll('#map .incident').length") == 4

    started = time.monotonic()
    inject.write(incident(0, scene=0))  # a new Extreme fire: the cue fires too
    browser.wait(
        "!!document.querySelector('#feed [data-id=\"INC-WALL-000\"]')", 2, "the new incident"
    )
    assert time.monotonic() - started < 2.0
    assert browser.evaluate("document.querySelector('#feed .row').dataset.id") == "INC-WALL-000"
    assert browser.evaluate("!document.getElementById('cue').hidden")
    assert browser.evaluate("!!document.querySelector('#map .incident.flash')")

    # keyboard: arrows move the selection, Enter opens the details with sparklines
    browser.evaluate("document.getElementById('feed').focus()")
    for key in ("ArrowDown", "ArrowDown", "Enter"):
        browser.call("press", key=key)
    browser.wait("!document.getElementById('details').hidden", 2, "the details panel")
    browser.wait("document.querySelectorAll('#details .spark-line').length >= 2", 3, "sparklines")
    freshness = browser.evaluate("document.querySelector('.freshness').textContent")
    assert "ATCS" in freshness and "STALE" in freshness  # hydromet readings are 3 h old

    errors = [m for m in browser.call("log")["console"] if m["type"] in ("error", "pageerror")]
    assert errors == []
    for width, height in ((1920, 1080), (3840, 2160)):
        path = artefacts / f"wall-{width}.png"
        browser.call("screenshot", file=str(path), width=width, height=height)
        assert path.stat().st_size > 20_000
    assert_only_loopback(browser)


def test_wall_resumes_after_api_restart_with_each_alert_once(browser, api, inject):
    inject.write(incident(1), incident(2))
    open_wall(browser, api, "?kiosk=1")
    assert (
        browser.evaluate("getComputedStyle(document.querySelector('.controls')).display") == "none"
    )

    api.stop()
    browser.wait("!document.getElementById('banner').hidden", 10, "the disconnected banner")
    banner = browser.evaluate("document.getElementById('banner').textContent")
    assert banner.startswith("Terputus dari server sejak "), banner
    missed = [incident(n) for n in range(10, 14)]
    inject.write(*missed, incident(1, version=2, status="acknowledged"))
    api.start()

    browser.wait("document.getElementById('banner').hidden", 15, "the reconnection")
    for inc in missed:
        browser.wait(f"!!document.querySelector('#feed [data-id=\"{inc.id}\"]')", 5, inc.id)
    browser.wait(
        "window.kendaliWall.store.byId.get('INC-WALL-001').status === 'acknowledged'",
        5,
        "the update made while the API was down",
    )
    inject.write(incident(2, version=2, status="dispatched"))  # and the live feed goes on
    browser.wait(
        "window.kendaliWall.store.byId.get('INC-WALL-002').version === 2", 3, "a live update"
    )
    for inc in (*missed, incident(1), incident(2)):
        assert rows(browser, inc.id) == 1
    applied = browser.evaluate("window.kendaliWall.store.applied")
    assert len(applied) == len(set(applied)), "an incident version applied twice"
    assert sorted(applied) == sorted(
        ["INC-WALL-001@1", "INC-WALL-002@1", "INC-WALL-001@2", "INC-WALL-002@2"]
        + [f"{inc.id}@1" for inc in missed]
    )
    assert_only_loopback(browser)
