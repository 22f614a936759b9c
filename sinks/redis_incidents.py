"""Incident versions to Redis: state hash, index, geo index and the append-only alert stream.

Delivery: effectively-once. Bytewax replays the last epoch after a crash (at-least-once), and
the Lua upsert in :mod:`kendali.store` drops any version not newer than the stored one, so a
replayed version changes nothing and adds no stream entry. ``write_batch`` returns only after
Redis has applied the whole batch (one pipelined round trip), retrying through outages.
"""

from __future__ import annotations

import redis
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from kendali.records import Incident
from kendali.store import UPSERT_LUA, Keys, incident_json
from sinks.redis_retry import retry_forever

__all__ = ["RedisIncidentSink"]


class _IncidentPartition(StatelessSinkPartition[Incident]):
    def __init__(self, url: str, keys: Keys, maxlen: int, retention_s: int):
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._keys = keys
        self._maxlen = maxlen
        self._retention_s = retention_s
        self._upsert = self._client.register_script(UPSERT_LUA)

    def _write(self, items: list[Incident]) -> None:
        pipe = self._client.pipeline(transaction=False)
        k = self._keys
        for inc in items:
            self._upsert(
                keys=[k.incident(inc.id), k.incidents, k.geo, k.alerts, k.closed],
                args=[
                    inc.id,
                    inc.version,
                    incident_json(inc),
                    inc.last_seen.timestamp(),
                    inc.lon,
                    inc.lat,
                    self._maxlen,
                    inc.status,
                    self._retention_s,
                ],
                client=pipe,
            )
        pipe.execute()

    def write_batch(self, items: list[Incident]) -> None:
        if items:
            retry_forever(lambda: self._write(items), "incident write")

    def close(self) -> None:
        self._client.close()


class RedisIncidentSink(DynamicSink[Incident]):
    """Write every incident version idempotently (see module docstring)."""

    def __init__(
        self,
        url: str,
        prefix: str = "kendali",
        stream_maxlen: int = 100_000,
        closed_retention_s: int = 7 * 24 * 3600,
    ):
        self.url = url
        self.keys = Keys(prefix)
        self.stream_maxlen = stream_maxlen
        self.closed_retention_s = closed_retention_s

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _IncidentPartition:
        return _IncidentPartition(self.url, self.keys, self.stream_maxlen, self.closed_retention_s)
