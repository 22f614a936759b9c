"""The Redis key layout, in one place, and the idempotent incident upsert.

Keys (``P`` is the configured prefix, ``kendali`` by default):

==============================  ======  ===============================================
key                             type    content
==============================  ======  ===============================================
``P:alerts``                    stream  one entry per incident version: ``id``, ``version``,
                                        ``incident`` (JSON). Append-only, resumable by
                                        stream id (SSE ``Last-Event-ID``), trimmed to
                                        ``redis.stream_maxlen``.
``P:incident:<id>``             hash    ``version`` and ``json`` of the current state
``P:incidents``                 zset    incident ids scored by last-seen epoch seconds
``P:incidents:geo``             geo     incident ids at their point
``P:series:<sensor>``           stream  recent readings of one sensor (sparklines), capped
``P:freshness``                 hash    per source: JSON with last event time, last write
                                        time and count, for the wall's freshness tiles
``P:audit:<id>``                stream  operator actions on an incident (issue 6)
``P:tokens``                    hash    token hash -> JSON of name, role, agency (issue 6)
``P:report:<id>``               string  an Open311 request as received, without personal
                                        data, for its status page (expires after 30 days)
==============================  ======  ===============================================

The upsert is one Lua script: a version that is not newer than the stored one is ignored, so
Bytewax's at-least-once replay after a crash can never duplicate an alert version.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from kendali.codec import to_dict
from kendali.records import Incident

__all__ = ["UPSERT_LUA", "Keys", "incident_json"]


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one prefix.

    >>> Keys("kendali").incident("INC-1")
    'kendali:incident:INC-1'
    """

    prefix: str = "kendali"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}:alerts"

    @property
    def incidents(self) -> str:
        return f"{self.prefix}:incidents"

    @property
    def geo(self) -> str:
        return f"{self.prefix}:incidents:geo"

    @property
    def freshness(self) -> str:
        return f"{self.prefix}:freshness"

    @property
    def tokens(self) -> str:
        return f"{self.prefix}:tokens"

    def incident(self, incident_id: str) -> str:
        return f"{self.prefix}:incident:{incident_id}"

    def series(self, sensor: str) -> str:
        return f"{self.prefix}:series:{sensor}"

    def audit(self, incident_id: str) -> str:
        return f"{self.prefix}:audit:{incident_id}"

    def report(self, report_id: str) -> str:
        return f"{self.prefix}:report:{report_id}"


#: KEYS: incident hash, index zset, geo set, alert stream.
#: ARGV: id, version, json, last-seen score, lon, lat, stream maxlen.
UPSERT_LUA = """
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'json', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('GEOADD', KEYS[3], ARGV[5], ARGV[6], ARGV[1])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*',
           'id', ARGV[1], 'version', ARGV[2], 'incident', ARGV[3])
return 1
"""


def incident_json(incident: Incident) -> bytes:
    """The JSON form of an incident as stored in Redis and served by the API."""
    return orjson.dumps(to_dict(incident), default=list)
