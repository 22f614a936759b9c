"""The monitor wall in a real headless Chromium, against the API and Redis of the test session.

Incidents are written into Redis exactly as the dataflow's sink writes them (see ``inject`` in
the conftest), so the page sees what it would see in production.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import pytest
import redis

from kendali.store import Keys
from kendali.tokens import create_token
from tests.browser.conftest import incident

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def record(artefacts, name: str, seconds: float) -> None:
    """Keep a measured time in ``wall-timings.json`` beside the screenshots (for docs/wall.md)."""
    path = artefacts / "wall-timings.json"
    timings = json.loads(path.read_text()) if path.exists() else {}
    timings[name] = round(seconds, 3)
    path.write_text(json.dumps(timings, indent=1, sort_keys=True))


def rows(browser, incident_id: str) -> int:
    return browser.evaluate(
        f"document.querySelectorAll('#feed [data-id=\"{incident_id}\"]').length"
    )


def viewer_token(settings) -> str:
    """A read-only bearer token, as an agency liaison's wall would get."""
    client = redis.Redis.from_url(settings.redis.url)
    try:
        return create_token(client, Keys(settings.redis.prefix), "viewer", name="wall")[0]
    finally:
        client.close()


def open_wall(browser, api, query: str = "") -> dict:
    """Open the wall with a token in its URL (which it must pass on) and wait for the list."""
    query += f"{'&' if query else '?'}access_token={viewer_token(api.settings)}"
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


def test_wall_shows_live_incidents_without_errors(api, browser, inject, artefacts):
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
    appear_s = time.monotonic() - started
    assert appear_s < 2.0
    record(artefacts, "incident_to_screen_s", appear_s)
    assert browser.evaluate("document.querySelector('#feed .row').dataset.id") == "INC-WALL-000"
    assert browser.evaluate("!document.getElementById('cue').hidden")
    assert browser.evaluate("window.kendaliWall.cue.beeps") == 1
    assert browser.evaluate("!!document.querySelector('#map .incident.flash')")

    # keyboard: arrows move the selection, Enter opens the details with sparklines
    browser.evaluate("document.getElementById('feed').focus()")
    for key in ("ArrowDown", "ArrowDown", "Enter"):
        browser.call("press", key=key)
    browser.wait("!document.getElementById('details').hidden", 2, "the details panel")
    browser.wait("document.querySelectorAll('#details .spark-line').length >= 2", 3, "sparklines")
    assert browser.evaluate("window.kendaliWall.city.endpoints")["history"]
    browser.wait("document.querySelectorAll('#details .history li').length", 3, "the history")
    freshness = browser.evaluate("document.querySelector('.freshness').textContent")
    assert "ATCS" in freshness and "STALE" in freshness  # hydromet readings are 3 h old

    kpis = "{agencies: {damkar: {to_acknowledge: {median_s: 42}}, police: {to_acknowledge: {}}}}"
    tta = browser.evaluate(f"import('/wall/tiles.js').then(m => m.ackByAgency({kpis}))")
    assert tta == {"damkar": 42}
    refs = [
        "gauge:AMPAL-HULU:flood:20261127T161000Z",
        "baf4a97b56ec",
        "gauge:AMPAL-HULU@2026-11-28T00:00:00+08:00",
        "report:R-1",
        "atcs:BPN-A01-EB@2026-11-28T00:00:00+08:00",
    ]
    sensors = browser.evaluate(f"import('/wall/details.js').then(m => m.sensorsOf({refs}))")
    assert sensors == ["gauge:AMPAL-HULU", "atcs:BPN-A01-EB"]
    browser.call("click", selector="#cue")  # a click dismisses the cue
    assert browser.evaluate("document.getElementById('cue').hidden")
    browser.call("click", selector="#mute")
    inject.write(incident(5))  # another Extreme fire, muted: seen but not heard
    browser.wait("!document.getElementById('cue').hidden", 2, "the muted cue")
    assert browser.evaluate("window.kendaliWall.cue.beeps") == 1
    browser.call("click", selector="#cue")
    browser.call("click", selector="#mute")  # sound back on for the next test and the screenshot
    assert browser.evaluate("document.getElementById('mute').getAttribute('aria-pressed')") == (
        "false"
    )
    browser.wait(
        "document.querySelector('.tile-value').textContent === '6'", 4, "the last-hour tile"
    )
    errors = [m for m in browser.call("log")["console"] if m["type"] in ("error", "pageerror")]
    assert errors == []
    for width, height in ((1920, 1080), (3840, 2160)):
        path = artefacts / f"wall-{width}.png"
        browser.call("screenshot", file=str(path), width=width, height=height)
        assert path.stat().st_size > 20_000
    assert_only_loopback(browser)


def test_wall_resumes_after_api_restart_with_each_alert_once(api, browser, inject, artefacts):
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
    ready = time.monotonic()

    browser.wait("document.getElementById('banner').hidden", 15, "the reconnection")
    record(artefacts, "api_ready_to_reconnected_s", time.monotonic() - ready)
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


def test_wall_language_switch_and_agency_filter(api, browser, inject):
    inject.write(incident(0), incident(1), incident(2))
    open_wall(browser, api, "?agency=damkar&layout=feed")
    assert browser.evaluate("document.querySelector('.pane-title').textContent").startswith(
        "Insiden"
    )
    browser.call("click", selector="#lang")
    assert browser.evaluate("document.querySelector('.pane-title').textContent").startswith(
        "Incidents"
    )
    assert browser.evaluate("getComputedStyle(document.getElementById('map-pane')).display") == (
        "none"
    )
    assert browser.evaluate(
        "[...document.querySelectorAll('#feed .row')].map(r => r.dataset.id)"
    ) == ["INC-WALL-000"]
    inject.write(incident(5), incident(6))  # a fire (damkar) and a flood (not damkar)
    browser.wait("!!document.querySelector('#feed [data-id=\"INC-WALL-005\"]')", 2, "the fire")
    time.sleep(0.3)
    assert rows(browser, "INC-WALL-006") == 0, "the agency filter reaches the live stream"


def test_wall_reloads_when_its_position_was_trimmed(api, browser, inject, isolated_settings):
    inject.write(incident(1))
    open_wall(browser, api)
    browser.call("offline", on=True)
    browser.wait("!document.getElementById('banner').hidden", 10, "the network blip")
    client = redis.Redis.from_url(isolated_settings.redis.url)
    client.xtrim(Keys(isolated_settings.redis.prefix).alerts, maxlen=0)  # position gone
    client.close()
    inject.write(incident(20), incident(21))
    browser.call("offline", on=False)
    for n in (1, 20, 21):
        browser.wait(f"!!document.querySelector('#feed [data-id=\"INC-WALL-{n:03d}\"]')", 5, n)
    browser.wait("document.getElementById('banner').hidden", 5, "the reconnection")
    assert [rows(browser, f"INC-WALL-{n:03d}") for n in (1, 20, 21)] == [1, 1, 1]
    lists = [u for u in browser.call("log")["requests"] if "/api/incidents?" in u]
    assert len(lists) == 2, "the reset event makes the page reload the list"
