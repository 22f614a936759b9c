"""Recent sensor values (for the wall's sparklines) and per-source data freshness.

Delivery: best-effort and bounded. Each batch writes at most one point per sensor and per
``min_gap_s`` of wall time, so a backlog replay at line rate costs a bounded number of Redis
commands; the freshness hash says when each source last delivered, which the wall shows as
"ATCS feed stale since 08:40". Values are rewritten idempotently on replay (same stream
content is harmless: sparklines are a view, not a record).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson
import redis
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from kendali.store import Keys
from sinks.redis_retry import retry_forever

__all__ = ["RedisSeriesSink", "SensorPoint"]


@dataclass(frozen=True, slots=True)
class SensorPoint:
    """One reading reduced to what a sparkline needs."""

    source: str
    sensor: str
    ts: float
    values: dict


class _SeriesPartition(StatelessSinkPartition[SensorPoint]):
    def __init__(self, url: str, keys: Keys, maxlen: int, min_gap_s: float):
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._keys = keys
        self._maxlen = maxlen
        self._min_gap_s = min_gap_s
        self._last_write: dict[str, float] = {}

    def _write(self, latest: dict[str, SensorPoint], fresh: dict[str, dict]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for sensor, point in latest.items():
            fields = {"ts": point.ts, **{k: v for k, v in point.values.items() if v is not None}}
            pipe.xadd(self._keys.series(sensor), fields, maxlen=self._maxlen, approximate=True)
        for source, info in fresh.items():
            pipe.hset(self._keys.freshness, source, orjson.dumps(info))
        pipe.execute()

    def write_batch(self, items: list[SensorPoint | list[SensorPoint]]) -> None:
        items = [p for item in items for p in (item if type(item) is list else (item,))]
        if not items:
            return
        now = time.time()
        latest: dict[str, SensorPoint] = {}
        fresh: dict[str, dict] = {}
        for point in items:
            info = fresh.setdefault(point.source, {"last_event": point.ts, "last_batch": 0})
            info["last_event"] = max(info["last_event"], point.ts)
            info["last_batch"] += 1
            if now - self._last_write.get(point.sensor, 0.0) >= self._min_gap_s:
                latest[point.sensor] = point
        for info in fresh.values():
            info["last_write"] = now
        for sensor in latest:
            self._last_write[sensor] = now
        retry_forever(lambda: self._write(latest, fresh), "sensor history write")

    def close(self) -> None:
        self._client.close()


class RedisSeriesSink(DynamicSink[SensorPoint]):
    """Capped per-sensor streams plus the freshness hash (see module docstring).

    Items are points or lists of points (the flow sends one list per source batch).
    """

    def __init__(
        self, url: str, prefix: str = "kendali", maxlen: int = 300, min_gap_s: float = 0.5
    ):
        self.url = url
        self.keys = Keys(prefix)
        self.maxlen = maxlen
        self.min_gap_s = min_gap_s

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _SeriesPartition:
        return _SeriesPartition(self.url, self.keys, self.maxlen, self.min_gap_s)
