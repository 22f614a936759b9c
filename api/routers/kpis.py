"""Service-level figures per agency for the wall, the measures NENA and NFPA use for call centres.

For incidents first seen within the window, the time from the first signal (``first_seen``) to:
the incident being written (its version 1 on the alert stream), acknowledgement, dispatch and
resolution (the operator's timestamp in the audit log; an automatic resolution's time is its
write on the alert stream). Median and 90th percentile, in seconds, per agency routed to. The
alert stream is scanned from the window's start, so a long window over a busy stream costs a
scan; results are cached for ``CACHE_S``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Request

from api.deps import AppState, State
from api.incident_store import IncidentQuery, query_incidents
from kendali.codec import parse_ts

__all__ = ["MEASURES", "compute_kpis", "kpi_table", "router"]

router = APIRouter(prefix="/api", tags=["kpis"])

MEASURES = ("to_incident", "to_acknowledge", "to_dispatch", "to_resolve")
CACHE_S = 15.0
_AUDIT = {"acknowledge": "to_acknowledge", "dispatch": "to_dispatch", "resolve": "to_resolve"}


def _summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "median_s": None, "p90_s": None}
    arr = np.asarray(values, dtype=float)
    return {
        "n": len(values),
        "median_s": round(float(np.median(arr)), 1),
        "p90_s": round(float(np.percentile(arr, 90)), 1),
    }


def kpi_table(rows: list[tuple[list[str], dict[str, float]]]) -> dict[str, dict]:
    """Per agency: incident count and, per measure, n / median / p90 of the seconds given.

    >>> t = kpi_table([(["damkar"], {"to_acknowledge": 60.0}), (["damkar", "police"], {})])
    >>> damkar = t["damkar"]
    >>> damkar["incidents"], damkar["to_acknowledge"]["median_s"], t["police"]["incidents"]
    (2, 60.0, 1)
    """
    by_agency: dict[str, dict[str, list[float]]] = {}
    counts: dict[str, int] = {}
    for agencies, times in rows:
        for agency in agencies:
            counts[agency] = counts.get(agency, 0) + 1
            slot = by_agency.setdefault(agency, {m: [] for m in MEASURES})
            for measure, seconds in times.items():
                slot[measure].append(seconds)
    return {
        agency: {"incidents": counts[agency], **{m: _summary(v) for m, v in slot.items()}}
        for agency, slot in sorted(by_agency.items())
    }


async def _writes(state: AppState, since: datetime) -> dict[str, dict[str, float]]:
    """From the alert stream: per incident, when version 1 and the first resolution were written."""
    out: dict[str, dict[str, float]] = {}
    start = f"{int(since.timestamp() * 1000)}-0"
    while True:
        page = await state.redis.xrange(state.keys.alerts, min=start, count=2000)
        for stream_id, fields in page:
            at = int(stream_id.split(b"-")[0]) / 1000
            seen = out.setdefault(fields[b"id"].decode(), {})
            if fields[b"version"] == b"1":
                seen["created"] = at
            if "resolved" not in seen and b'"status":"resolved"' in fields[b"incident"]:
                seen["resolved"] = at
        if len(page) < 2000:
            return out
        start = "(" + page[-1][0].decode()


async def _audit_times(state: AppState, ids: list[str]) -> list[dict[str, float]]:
    pipe = state.redis.pipeline(transaction=False)
    for incident_id in ids:
        pipe.xrange(state.keys.audit(incident_id))
    out = []
    for entries in await pipe.execute():
        first: dict[str, float] = {}
        for _, fields in entries:
            measure = _AUDIT.get(fields[b"action"].decode())
            if measure and measure not in first:
                first[measure] = parse_ts(fields[b"ts"].decode()).timestamp()
        out.append(first)
    return out


async def compute_kpis(state: AppState, hours: float) -> dict:
    since = datetime.now(UTC) - timedelta(hours=hours)
    q = IncidentQuery(since=since.timestamp(), limit=1000)
    incidents = [
        i
        for i in await query_incidents(state.redis, state.keys, q)
        if i["kind"] == "incident" and parse_ts(i["first_seen"]) >= since
    ]
    writes = await _writes(state, since)
    audits = await _audit_times(state, [i["id"] for i in incidents])
    rows = []
    for inc, audit in zip(incidents, audits, strict=True):
        t0 = parse_ts(inc["first_seen"]).timestamp()
        written = writes.get(inc["id"], {})
        at = {"to_incident": written.get("created"), **audit}
        at.setdefault("to_resolve", written.get("resolved"))
        rows.append(
            (inc["agencies"], {m: max(0.0, t - t0) for m, t in at.items() if t is not None})
        )
    return {
        "window_h": hours,
        "since": since.isoformat(timespec="seconds"),
        "incidents": len(incidents),
        "agencies": kpi_table(rows),
    }


@router.get("/kpis")
async def kpis(
    request: Request,
    state: State,
    hours: Annotated[float, Query(gt=0, le=24 * 30, description="window in hours")] = 24.0,
) -> dict:
    """Median and p90 seconds from first signal to incident, acknowledgement, dispatch and
    resolution, per agency, over the last ``hours``."""
    cache = getattr(request.app.state, "kpi_cache", {})
    hit = cache.get(hours)
    if hit and time.monotonic() - hit[0] < CACHE_S:
        return hit[1]
    result = await compute_kpis(state, hours)
    request.app.state.kpi_cache = {**cache, hours: (time.monotonic(), result)}
    return result
