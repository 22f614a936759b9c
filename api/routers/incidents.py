"""Incidents: list with filters, one by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from api.auth import Caller, Reader, hidden_categories
from api.deps import AppState, State
from api.incident_store import IncidentQuery, latest_stream_id, load_incident, query_incidents
from api.schemas import IncidentList, IncidentOut, Problem
from kendali.codec import parse_ts

router = APIRouter(prefix="/api", tags=["incidents"])


def _csv(values: list[str] | None) -> frozenset[str]:
    return frozenset(v.strip() for item in values or [] for v in item.split(",") if v.strip())


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise HTTPException(
            422, f"bbox must be four numbers west,south,east,north; got {text!r}"
        ) from None
    if not (west < east and south < north):
        raise HTTPException(422, f"bbox {text!r}: west must be < east and south < north")
    return (west, south, east, north)


def _epoch(text: str | None, name: str) -> float | None:
    if not text:
        return None
    try:
        return parse_ts(text).timestamp()
    except ValueError as exc:
        raise HTTPException(422, f"{name}: {exc}") from None


def incident_query(
    state: State,
    caller: Reader,
    status: Annotated[
        list[str] | None, Query(description="new, acknowledged, ... (comma list)")
    ] = None,
    kind: Annotated[list[str] | None, Query(description="incident or fault")] = None,
    category: Annotated[list[str] | None, Query(description="flood, fire, congestion, ...")] = None,
    agency: Annotated[list[str] | None, Query(description="agency code, e.g. damkar")] = None,
    zone: Annotated[list[str] | None, Query(description="zone name")] = None,
    bbox: Annotated[str | None, Query(description="west,south,east,north in degrees")] = None,
    since: Annotated[str | None, Query(description="ISO 8601 with offset: last seen after")] = None,
    until: Annotated[
        str | None, Query(description="ISO 8601 with offset: last seen before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> IncidentQuery:
    return IncidentQuery(
        status=_csv(status),
        kind=_csv(kind),
        category=_csv(category),
        agency=_csv(agency),
        zone=_csv(zone),
        bbox=_bbox(bbox),
        since=_epoch(since, "since"),
        until=_epoch(until, "until"),
        limit=limit,
        hidden=hidden_categories(state.city.restricted, caller),
    )


Filters = Annotated[IncidentQuery, Depends(incident_query)]


@router.get("/incidents", response_model=IncidentList)
async def list_incidents(state: State, q: Filters) -> dict:
    """Incidents, most recently active first, with the stream id to resume live updates from."""
    stream_id = await latest_stream_id(state.redis, state.keys)
    items = await query_incidents(state.redis, state.keys, q)
    return {"items": items, "count": len(items), "stream_id": stream_id}


@router.get(
    "/incidents/{incident_id}", response_model=IncidentOut, responses={404: {"model": Problem}}
)
async def get_incident(incident_id: str, state: State, caller: Reader) -> dict:
    """One incident in its current version."""
    return await readable_incident(state, caller, incident_id)


async def readable_incident(state: AppState, caller: Caller | None, incident_id: str) -> dict:
    """One incident, or ``404`` if there is none or the caller may not read it (a restricted
    category without a token: the answer does not tell that it exists)."""
    inc = await load_incident(state.redis, state.keys, incident_id)
    if inc is None or inc["category"] in hidden_categories(state.city.restricted, caller):
        raise HTTPException(404, f"no incident {incident_id!r}")
    return inc
