"""Simulator → broker → dataflow → Redis → HTTP and SSE, with real servers and processes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
import redis

from geo.distance import haversine_m
from kendali.city import load_city
from kendali.processes import Child, api_command, flow_command, server_env
from kendali.store import Keys
from kendali.tokens import create_token
from sources.publish import KafkaPublisher
from sources.simulator import CitySimulator, load_scenario, run
from tests.support import ROOT, free_port, wait_until

pytestmark = pytest.mark.integration


class SseListener(threading.Thread):
    """Collects (id, incident) pairs from /api/stream until stopped."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.events: list[tuple[str, dict]] = []
        self.connected = threading.Event()
        self.stopping = False

    def run(self):
        with httpx.stream("GET", self.url, timeout=None) as resp:
            self.connected.set()
            event_id = None
            for line in resp.iter_lines():
                if self.stopping:
                    return
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: ") and event_id:
                    self.events.append((event_id, orjson.loads(line[6:])))
                    event_id = None  # a ping event carries data but no id


@pytest.fixture
def running(isolated_settings, tmp_path):
    settings = isolated_settings
    env = server_env(settings)
    flow = Child(
        "dataflow", flow_command(settings, recovery=False), env, tmp_path / "flow.log", cwd=ROOT
    ).start()
    port = free_port()
    api = Child("api", api_command(settings, port), env, tmp_path / "api.log", cwd=ROOT).start()
    base = f"http://127.0.0.1:{port}"

    def api_up():
        try:
            return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(api_up, 30, "the API to be ready", api)
    yield settings, base, flow
    api.stop()
    flow.stop()


def test_injected_incident_reaches_api_and_sse(running):
    settings, base, flow = running
    city = load_city(settings.city)
    with redis.Redis.from_url(settings.redis.url) as r:
        token, _ = create_token(r, Keys(settings.redis.prefix), "viewer", name="e2e-wall")
    listener = SseListener(f"{base}/api/stream?access_token={token}")
    listener.start()
    assert listener.connected.wait(10)

    scenario_path = Path(settings.city) / "scenario.toml"
    scenario = load_scenario(scenario_path) if scenario_path.exists() else None
    now = datetime.now(UTC)
    sim = CitySimulator(
        city, scenario, seed=3, start=now - timedelta(hours=2), backfill=timedelta(hours=12)
    )
    publisher = KafkaPublisher(settings)
    run(sim, publisher, speedup=1e6, until=now)
    publisher.flush()
    fires = [t for t in sim.truth if t.category == "fire" and t.start <= now]
    assert fires, "the scenario must inject a fire within the simulated window"
    truth = fires[0]

    def fire_on_api():
        resp = httpx.get(f"{base}/api/incidents", params={"category": "fire"}, timeout=5)
        assert resp.status_code == 200, resp.text
        return [
            i
            for i in resp.json()["items"]
            if haversine_m(i["lon"], i["lat"], truth.lon, truth.lat) < 600
        ]

    found = wait_until(fire_on_api, 60, "the injected fire on the API", flow)
    incident = found[0]
    assert "damkar" in incident["agencies"]
    one = httpx.get(f"{base}/api/incidents/{incident['id']}", timeout=5).json()
    assert one["id"] == incident["id"]
    assert httpx.get(f"{base}/api/incidents/NOPE", timeout=5).status_code == 404

    wait_until(
        lambda: any(e[1]["id"] == incident["id"] for e in listener.events),
        10,
        "the incident on the SSE stream",
    )
    ids = [e[0] for e in listener.events]
    assert len(ids) == len(set(ids)), "no SSE event twice"

    # resume: a client that saw the first event gets everything after it, and nothing before
    first_id = ids[0]
    headers = {"Last-Event-ID": first_id, "Authorization": f"Bearer {token}"}
    with httpx.stream("GET", f"{base}/api/stream", headers=headers, timeout=10) as resp:
        resumed = []
        for line in resp.iter_lines():
            if line.startswith("id: "):
                resumed.append(line[4:])
                if len(resumed) == len(ids) - 1:
                    break
    assert resumed == ids[1:]
    listener.stopping = True


def test_open311_reports_become_one_incident_with_status(running):
    """Reports posted by an existing complaint app (Open311) merge into one incident in seconds."""
    settings, base, flow = running
    ids = []
    for i in range(6):
        resp = httpx.post(f"{base}/open311/v2/requests.json", timeout=10, data={
            "service_code": "fire", "lat": f"{-1.2735 + 0.0002 * i:.5f}",
            "long": f"{116.8365 + 0.0002 * (i % 3):.5f}",
            "description": "asap hitam dari gudang dekat Lapangan Merdeka",
        })  # fmt: skip
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()[0]["service_request_id"])

    def joined():
        status = httpx.get(f"{base}/open311/v2/requests/{ids[-1]}.json", timeout=5).json()[0]
        return status if "part of incident" in status["status_notes"] else None

    status = wait_until(joined, 30, "the reports to join an incident", flow)
    incident_id = status["status_notes"].split()[3]
    with redis.Redis.from_url(settings.redis.url) as r:
        token, _ = create_token(r, Keys(settings.redis.prefix), "viewer", name="e2e-o311")
    incident = httpx.get(f"{base}/api/incidents/{incident_id}", timeout=5,
                         params={"access_token": token}).json()  # fmt: skip
    assert incident["category"] == "fire" and "damkar" in incident["agencies"]
    assert {f"report:{i}" for i in ids} <= set(incident["evidence"]), "one incident, all reports"
