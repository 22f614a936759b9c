"""Reading incidents back from Redis for the API (the dataflow is the only writer)."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis

from kendali.store import Keys

__all__ = ["IncidentQuery", "latest_stream_id", "load_incident", "query_incidents"]


@dataclass(frozen=True)
class IncidentQuery:
    """Filters of the incident list; every field is optional."""

    status: frozenset[str] = frozenset()
    kind: frozenset[str] = frozenset()
    category: frozenset[str] = frozenset()
    agency: frozenset[str] = frozenset()
    zone: frozenset[str] = frozenset()
    bbox: tuple[float, float, float, float] | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 200
    #: Categories left out whatever the other filters say (restricted ones, for public reads).
    hidden: frozenset[str] = frozenset()

    def matches(self, inc: dict) -> bool:
        """Whether one incident (as stored JSON) passes every filter.

        >>> q = IncidentQuery(agency=frozenset({"damkar"}), bbox=(116.8, -1.3, 116.9, -1.2))
        >>> fire = {"status": "new", "kind": "incident", "category": "fire",
        ...         "agencies": ["damkar"], "zone": "Z", "lon": 116.85, "lat": -1.25}
        >>> q.matches(fire), IncidentQuery(hidden=frozenset({"fire"})).matches(fire)
        (True, False)
        """
        if inc["category"] in self.hidden:
            return False
        if self.status and inc["status"] not in self.status:
            return False
        if self.kind and inc["kind"] not in self.kind:
            return False
        if self.category and inc["category"] not in self.category:
            return False
        if self.agency and not self.agency.intersection(inc["agencies"]):
            return False
        if self.zone and inc.get("zone") not in self.zone:
            return False
        if self.bbox:
            west, south, east, north = self.bbox
            if not (west <= inc["lon"] <= east and south <= inc["lat"] <= north):
                return False
        return True


async def load_incident(r: aioredis.Redis, keys: Keys, incident_id: str) -> dict | None:
    raw = await r.hget(keys.incident(incident_id), "json")
    return orjson.loads(raw) if raw else None


async def query_incidents(r: aioredis.Redis, keys: Keys, q: IncidentQuery) -> list[dict]:
    """Newest first (by last seen), scanning the index in pages until ``limit`` match."""
    hi = q.until if q.until is not None else "+inf"
    lo = q.since if q.since is not None else "-inf"
    out: list[dict] = []
    offset, page = 0, max(200, q.limit)
    while len(out) < q.limit:
        ids = await r.zrevrangebyscore(keys.incidents, hi, lo, start=offset, num=page)
        if not ids:
            break
        offset += len(ids)
        pipe = r.pipeline(transaction=False)
        for i in ids:
            pipe.hget(keys.incident(i.decode()), "json")
        for raw in await pipe.execute():
            if raw:
                inc = orjson.loads(raw)
                if q.matches(inc):
                    out.append(inc)
                    if len(out) >= q.limit:
                        break
    return out


async def latest_stream_id(r: aioredis.Redis, keys: Keys) -> str:
    """Id of the newest alert-stream entry ("0-0" when empty): resume the live feed after it."""
    last = await r.xrevrange(keys.alerts, count=1)
    return last[0][0].decode() if last else "0-0"
