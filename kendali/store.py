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
``P:incidents:geo``             geo     ids of incidents not closed, at their point
``P:incidents:closed``          zset    closed incident ids by last-seen time; after
                                        ``redis.closed_retention_s`` they leave the index
                                        and their hash expires
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
    def closed(self) -> str:
        return f"{self.prefix}:incidents:closed"

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


#: KEYS: incident hash, index zset, geo set, alert stream, closed-incident zset.
#: ARGV: id, version, json, last-seen score, lon, lat, stream maxlen, status, retention seconds.
#: A closed incident leaves the geo set, its hash expires after the retention, and closed
#: incidents older than the retention leave the index (at most 100 per write, so it stays cheap).
UPSERT_LUA = """
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'json', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*',
           'id', ARGV[1], 'version', ARGV[2], 'incident', ARGV[3])
if ARGV[8] ~= 'closed' then
  redis.call('GEOADD', KEYS[3], ARGV[5], ARGV[6], ARGV[1])
  return 1
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[9])
local horizon = tonumber(ARGV[4]) - tonumber(ARGV[9])
local old = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', horizon, 'LIMIT', 0, 100)
for _, id in ipairs(old) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[5], id)
end
return 1
"""


def incident_json(incident: Incident) -> bytes:
    """The JSON form of an incident as stored in Redis and served by the API."""
    return orjson.dumps(to_dict(incident), default=list)
