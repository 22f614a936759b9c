"""Response schemas of the API, kept apart from the internal records."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["IncidentList", "IncidentOut", "Problem"]


class IncidentOut(BaseModel):
    """An incident as the API serves it (see ``kendali.records.Incident``)."""

    id: str
    version: int
    kind: str
    category: str
    status: str
    severity: str
    urgency: str
    certainty: str
    lat: float
    lon: float
    zone: str | None
    agencies: list[str]
    evidence: list[str]
    sources: list[str]
    first_seen: str
    last_seen: str
    score: float
    explanation: str
    area: list[list[float]] | None = None
    signal_count: int = 1
    merged_into: str | None = None


class IncidentList(BaseModel):
    """A page of incidents, newest first, and the alert-stream id to resume the live feed from."""

    items: list[IncidentOut]
    count: int
    stream_id: str


class Problem(BaseModel):
    """An error: what was wrong, in a sentence."""

    detail: str
