"""GeoJSON with the list's filters, CAP 1.2 alerts and feed valid against the OASIS schema, KPIs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from api.cap_xml import ATOM_NS, CAP_NS
from tests.api.conftest import NOW, incident

RING = ((116.862, -1.252), (116.876, -1.252), (116.876, -1.242), (116.862, -1.242))


@pytest.fixture(scope="module")
def cap_schema(request) -> xmlschema.XMLSchema:
    from kendali.settings import Settings

    path = Path(Settings().data_dir) / "cap" / "CAP-v1.2.xsd"
    if not path.exists():
        pytest.skip(f"CAP 1.2 schema not found at {path} (shared data folder absent)")
    return xmlschema.XMLSchema(str(path))


def seed(api):
    api.write(
        incident(),
        incident("INC-f", category="flood", zone="Balikpapan Tengah", agencies=("bpbd",),
                 area=RING, version=3, certainty="Observed"),
        incident("INC-old", first_seen=NOW - timedelta(days=2), last_seen=NOW - timedelta(days=2)),
        incident("INC-fa", status="false_alarm", version=2),
    )  # fmt: skip


def test_geojson_has_points_and_areas_and_honours_the_filters(api):
    seed(api)
    fc = api.client.get("/api/incidents.geojson").json()
    assert fc["type"] == "FeatureCollection"
    kinds = {(f["id"], f["geometry"]["type"]) for f in fc["features"]}
    assert {("INC-f", "Point"), ("INC-f#area", "Polygon"), ("INC-a", "Point")} <= kinds
    area = next(f for f in fc["features"] if f["id"] == "INC-f#area")
    ring = area["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    by_zone = api.client.get("/api/incidents.geojson", params={"zone": "Balikpapan Tengah"}).json()
    assert {f["properties"]["id"] for f in by_zone["features"]} == {"INC-f"}
    since = (NOW - timedelta(hours=1)).isoformat()
    recent = api.client.get("/api/incidents.geojson", params={"since": since}).json()
    assert "INC-old" not in {f["properties"]["id"] for f in recent["features"]}
    r = api.client.get("/api/incidents.geojson", params={"bbox": "1,2"})
    assert r.status_code == 422


def test_cap_alerts_are_valid_cap_1_2(api, cap_schema):
    seed(api)
    for incident_id, msg_type, shape in (
        ("INC-a", "Alert", "circle"),
        ("INC-f", "Update", "polygon"),
        ("INC-fa", "Cancel", "circle"),
    ):
        r = api.client.get(f"/api/incidents/{incident_id}/cap")
        assert r.status_code == 200 and r.headers["content-type"] == "application/cap+xml"
        cap_schema.validate(r.content)
        root = ET.fromstring(r.content)
        assert root.findtext(f"{{{CAP_NS}}}msgType") == msg_type
        assert root.find(f".//{{{CAP_NS}}}area/{{{CAP_NS}}}{shape}") is not None
    assert api.client.get("/api/incidents/NOPE/cap").status_code == 404


def test_cap_feed_lists_active_incidents_with_valid_embedded_alerts(api, cap_schema):
    seed(api)
    r = api.client.get("/api/cap")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(r.content)
    entries = feed.findall(f"{{{ATOM_NS}}}entry")
    alerts = [e.find(f"{{{ATOM_NS}}}content/{{{CAP_NS}}}alert") for e in entries]
    ids = {a.findtext(f"{{{CAP_NS}}}incidents") for a in alerts}
    assert ids == {"INC-a", "INC-f", "INC-old"}  # the false alarm is not active
    for alert in alerts:
        cap_schema.validate(ET.tostring(alert))
    link = entries[0].find(f"{{{ATOM_NS}}}link").get("href")
    assert link.endswith("/cap") and "/api/incidents/INC-" in link


def test_kpis_per_agency_from_the_audit_log(api):
    inc = incident()
    api.write(inc)
    sup = api.token("supervisor")
    api.client.post("/api/incidents/INC-a/actions", json={"action": "annotate"}, headers=sup)
    api.redis.xadd(
        api.keys.audit("INC-a"),
        {"action_id": "x", "action": "acknowledge", "actor": "s", "role": "supervisor",
         "agency": "", "ts": (NOW + timedelta(seconds=90)).isoformat(),
         "previous_status": "new", "previous_version": 1, "fields": "{}"},
    )  # fmt: skip
    kpis = api.client.get("/api/kpis", params={"hours": 1}).json()
    damkar = kpis["agencies"]["damkar"]
    assert damkar["incidents"] == 1
    assert damkar["to_acknowledge"] == {"n": 1, "median_s": 90.0, "p90_s": 90.0}
    assert damkar["to_incident"]["n"] == 1 and damkar["to_dispatch"]["n"] == 0
    assert set(kpis["agencies"]) == {"damkar", "police"}
