"""The monitor wall: its page and assets, and the read-only figures the page draws.

``GET /wall`` serves a self-contained page (no CDN, no map library: command-centre networks are
often closed) under a strict Content-Security-Policy. The page reads the city's geometry from
``GET /api/city``, sensor history for sparklines from ``GET /api/series/{sensor}``, per-source
data freshness from ``GET /api/freshness`` and simple counts for its tiles from
``GET /api/wall/figures``; incidents come from ``/api/incidents`` and ``/api/stream``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import orjson
import shapely.geometry
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response

from api.deps import State
from kendali.city import City
from kendali.codec import parse_ts

__all__ = [
    "OPEN_STATUSES",
    "city_json",
    "content_security_policy",
    "figures",
    "freshness_rows",
    "router",
]

router = APIRouter(tags=["wall"])

STATIC = Path(__file__).resolve().parent.parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(js|css)$")

#: Incident states that still need someone's attention (counted on the agency tiles).
OPEN_STATUSES = frozenset({"new", "acknowledged", "dispatched"})
#: How often each source normally delivers; a source silent for STALE_INTERVALS of these is stale.
EXPECTED_INTERVAL_S = {"atcs": 300.0, "hydromet": 600.0}
STALE_INTERVALS = 3
#: The tiles look this far back for open incidents (older ones have long been escalated).
FIGURES_WINDOW_S = 24 * 3600
FIGURES_MAX = 5000
FIGURES_CACHE_S = 1.0  # below the page's 1.5 s refresh-after-incident delay, so that sees it


def content_security_policy(tile_url: str = "") -> str:
    """The wall's CSP: only its own origin, plus the tile server's origin for images if set.

    >>> "img-src 'self' data: https://tiles.example" in content_security_policy(
    ...     "https://tiles.example/{z}/{x}/{y}.png")
    True
    >>> "script-src 'self';" in content_security_policy()
    True
    """
    img = "'self' data:"
    if tile_url:
        parts = urlsplit(tile_url.replace("{", "").replace("}", ""))
        if parts.scheme in ("http", "https") and parts.netloc:
            img += f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _headers(tile_url: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(tile_url),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


@router.get("/wall", response_class=FileResponse, include_in_schema=False)
async def wall_page(state: State) -> FileResponse:
    """The wall page (``?kiosk=1``, ``?layout=map|feed|full``, ``?agency=``, ``?zone=``)."""
    return FileResponse(
        STATIC / "wall.html",
        media_type=MEDIA_TYPES[".html"],
        headers=_headers(state.settings.api.tile_url),
    )


@router.get("/wall/{asset}", response_class=FileResponse, include_in_schema=False)
async def wall_asset(asset: str, state: State) -> FileResponse:
    """A script, style sheet or icon of the page; only plain names from ``api/static``."""
    path = STATIC / asset
    if not ASSET_NAME.match(asset) or not path.is_file():
        raise HTTPException(404, f"no wall asset {asset!r}")
    return FileResponse(
        path, media_type=MEDIA_TYPES[path.suffix], headers=_headers(state.settings.api.tile_url)
    )


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def _point(lon: float, lat: float, **props) -> dict:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


def city_json(city: City, tile_url: str = "") -> dict:
    """What the page needs to draw the city: names, time zone, centre and GeoJSON layers.

    >>> from kendali.settings import Settings
    >>> from kendali.city import load_city
    >>> doc = city_json(load_city(Settings().city))
    >>> doc["tz"], doc["gauges"]["features"][0]["geometry"]["type"]
    ('Asia/Makassar', 'Point')
    """
    detectors = [
        _point(d.lon, d.lat, id=d.id, name=d.intersection_name, road=d.road, approach=d.approach)
        for d in city.detectors.values()
    ]
    gauges = [_point(g.lon, g.lat, id=g.id, name=g.name, kind=g.kind) for g in city.gauges.values()]
    areas = [
        {
            "type": "Feature",
            "properties": {"id": a.id, "name": a.name},
            "geometry": shapely.geometry.mapping(a.geometry),
        }
        for a in city.flood_areas.values()
    ]
    return {
        "name": city.name,
        "tz": city.tz.key,
        "center": list(city.center),
        "bbox": list(city.bbox),
        "agencies": city.agencies,
        "tile_url": tile_url,
        "zones": city.zone_index.to_geojson(),
        "detectors": _collection(detectors),
        "gauges": _collection(gauges),
        "flood_areas": _collection(areas),
    }


#: Endpoints other routers may add; the page asks only for those the app serves (no 404 noise).
OPTIONAL_ENDPOINTS = {
    "kpis": re.compile(r"^/api/kpis$"),
    "history": re.compile(r"^/api/incidents/\{\w+\}/history$"),
}


def _optional_endpoints(request: Request) -> dict[str, bool]:
    paths = list(request.app.openapi().get("paths", {}))  # the public list of the app's routes
    return {name: any(map(rx.match, paths)) for name, rx in OPTIONAL_ENDPOINTS.items()}


@router.get("/api/city")
async def get_city(request: Request, state: State) -> Response:
    """The city as the wall draws it (zones, detectors, gauges, flood areas as GeoJSON)."""
    cached = getattr(request.app.state, "wall_city", None)
    if cached is None:
        doc = city_json(state.city, state.settings.api.tile_url)
        doc["endpoints"] = _optional_endpoints(request)
        cached = orjson.dumps(doc)
        request.app.state.wall_city = cached
    return Response(cached, media_type="application/json")


@router.get("/api/series/{sensor}")
async def get_series(
    sensor: str, state: State, limit: Annotated[int, Query(ge=1, le=1000)] = 120
) -> dict:
    """Recent readings of one sensor (``atcs:BPN-A01-EB``, ``gauge:AMPAL-MTH``), oldest first."""
    entries = await state.redis.xrevrange(state.keys.series(sensor), count=limit)
    points = []
    for _id, fields in reversed(entries):
        values = {k.decode(): float(v) for k, v in fields.items()}
        points.append({"ts": values.pop("ts", None), "values": values})
    return {"sensor": sensor, "points": points}


def freshness_rows(raw: dict[str, dict], now: float) -> list[dict]:
    """One row per source: ages of its last event and write, and whether it is stale.

    A source with a known interval that never delivered is listed too, as stale with no age.

    >>> rows = freshness_rows({"atcs": {"last_event": 0.0, "last_write": 950.0}}, now=1000.0)
    >>> [(r["source"], r["age_s"], r["stale"]) for r in rows]
    [('atcs', 1000.0, True), ('hydromet', None, True)]
    """
    rows = []
    for source in sorted(raw.keys() | EXPECTED_INTERVAL_S.keys()):
        info = raw.get(source, {})
        interval = EXPECTED_INTERVAL_S.get(source)
        last = info.get("last_event")
        age = None if last is None else round(max(0.0, now - float(last)), 1)
        stale = interval is not None and (age is None or age > STALE_INTERVALS * interval)
        rows.append(
            {
                "source": source,
                "last_event": last,
                "last_write": info.get("last_write"),
                "age_s": age,
                "interval_s": interval,
                "stale": stale,
            }
        )
    return rows


@router.get("/api/freshness")
async def get_freshness(state: State) -> dict:
    """When each source (atcs, hydromet, reports) last delivered, for the freshness tiles."""
    raw = await state.redis.hgetall(state.keys.freshness)
    parsed = {k.decode(): orjson.loads(v) for k, v in raw.items()}
    now = time.time()
    return {"now": now, "sources": freshness_rows(parsed, now)}


def figures(incidents: list[dict], now: float) -> dict:
    """Open incidents per agency and incidents first seen in the last hour.

    >>> figures([{"status": "new", "kind": "incident", "agencies": ["damkar", "police"],
    ...           "first_seen": "2026-01-01T07:30:00+08:00"}], now=1767224700.0)
    {'open_by_agency': {'damkar': 1, 'police': 1}, 'open': 1, 'last_hour': 1}
    """
    by_agency: dict[str, int] = {}
    open_count = last_hour = 0
    for inc in incidents:
        if inc.get("kind", "incident") != "incident":
            continue
        if inc["status"] in OPEN_STATUSES:
            open_count += 1
            for agency in inc["agencies"]:
                by_agency[agency] = by_agency.get(agency, 0) + 1
        if now - parse_ts(inc["first_seen"]).timestamp() <= 3600:
            last_hour += 1
    return {"open_by_agency": by_agency, "open": open_count, "last_hour": last_hour}


@router.get("/api/wall/figures")
async def get_figures(request: Request, state: State) -> dict:
    """Tile figures over incidents active in the last 24 hours (read from the incident index).

    Computed at most once per ``FIGURES_CACHE_S`` per API process, however many walls ask.
    """
    cached = getattr(request.app.state, "wall_figures", None)
    if cached and time.monotonic() - cached[0] < FIGURES_CACHE_S:
        return cached[1]
    result = await _figures_now(state)
    request.app.state.wall_figures = (time.monotonic(), result)
    return result


async def _figures_now(state: State) -> dict:
    now = time.time()
    r, keys = state.redis, state.keys
    ids = await r.zrevrangebyscore(
        keys.incidents, "+inf", now - FIGURES_WINDOW_S, start=0, num=FIGURES_MAX
    )
    pipe = r.pipeline(transaction=False)
    for i in ids:
        pipe.hget(keys.incident(i.decode()), "json")
    incidents = [orjson.loads(raw) for raw in await pipe.execute() if raw]
    return {"now": now, **figures(incidents, now)}
