"""Exports for other systems: GeoJSON for GIS layers, CAP 1.2 for alert hubs and warning systems.

All take the incident list's filters (status, kind, category, agency, zone, bbox, since, until,
limit). ``/api/cap`` is an ATOM feed (the form alert hubs poll) of the active incidents unless a
``status`` filter says otherwise; each entry links to and embeds its CAP alert.
"""

from __future__ import annotations

import re
from dataclasses import replace

import orjson
from fastapi import APIRouter, Request, Response

from api.auth import Reader
from api.cap_xml import alert_xml, atom_feed
from api.deps import AppState, State
from api.incident_store import query_incidents
from api.routers.incidents import Filters, readable_incident
from api.schemas import Problem
from detectors.lifecycle import ACTIVE

__all__ = ["feature_collection", "router"]

router = APIRouter(prefix="/api", tags=["exports"])

CAP_TYPE = "application/cap+xml"


def _features(inc: dict) -> list[dict]:
    props = {k: v for k, v in inc.items() if k not in ("lat", "lon", "area")}
    point = {
        "type": "Feature",
        "id": inc["id"],
        "geometry": {"type": "Point", "coordinates": [inc["lon"], inc["lat"]]},
        "properties": {**props, "geometry_role": "point"},
    }
    ring = [list(p) for p in inc.get("area") or []]
    if len(ring) < 3:
        return [point]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    area = {
        "type": "Feature",
        "id": f"{inc['id']}#area",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {**props, "geometry_role": "area"},
    }
    return [point, area]


def feature_collection(incidents: list[dict]) -> dict:
    """A GeoJSON FeatureCollection: a point per incident, plus its area polygon when it has one.

    >>> fc = feature_collection([{"id": "I", "lat": -1.2, "lon": 116.8, "status": "new",
    ...                           "area": [[116.8, -1.2], [116.9, -1.2], [116.9, -1.3]]}])
    >>> [(f["geometry"]["type"], f["properties"]["geometry_role"]) for f in fc["features"]]
    [('Point', 'point'), ('Polygon', 'area')]
    """
    return {
        "type": "FeatureCollection",
        "features": [f for inc in incidents for f in _features(inc)],
    }


def _sender(state: AppState) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", state.city.name.lower()).strip("-")
    return f"kendali@{slug or 'city'}"


@router.get("/incidents.geojson", responses={200: {"content": {"application/geo+json": {}}}})
async def incidents_geojson(state: State, q: Filters) -> Response:
    """Incidents as GeoJSON (RFC 7946), with the same filters as ``/api/incidents``."""
    items = await query_incidents(state.redis, state.keys, q)
    return Response(orjson.dumps(feature_collection(items)), media_type="application/geo+json")


@router.get(
    "/incidents/{incident_id}/cap",
    responses={200: {"content": {CAP_TYPE: {}}}, 404: {"model": Problem}},
)
async def incident_cap(
    incident_id: str, request: Request, state: State, caller: Reader
) -> Response:
    """One incident, current version, as an OASIS CAP 1.2 alert."""
    inc = await readable_incident(state, caller, incident_id)
    web = str(request.url_for("get_incident", incident_id=incident_id))
    body = alert_xml(inc, _sender(state), f"Kendali — {state.city.name}", web)
    return Response(body, media_type=CAP_TYPE)


@router.get("/cap", responses={200: {"content": {"application/atom+xml": {}}}})
async def cap_feed(request: Request, state: State, q: Filters) -> Response:
    """ATOM feed of CAP alerts: the active incidents (new, acknowledged, dispatched) by default."""
    if not q.status:
        q = replace(q, status=frozenset(ACTIVE))
    items = await query_incidents(state.redis, state.keys, q)
    cap_url = str(request.url_for("incident_cap", incident_id="{id}")).replace("%7Bid%7D", "{id}")
    body = atom_feed(
        items, f"Kendali — {state.city.name}", str(request.url), cap_url, _sender(state)
    )
    return Response(body, media_type="application/atom+xml")
