"""The incident sink against a real Redis: idempotent versions, stream order, closed retention."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import redis

from kendali.records import Incident
from kendali.store import Keys
from sinks.redis_incidents import RedisIncidentSink

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)


def incident(i: str, version: int, status: str = "new", at: datetime = T0) -> Incident:
    return Incident(
        id=i, version=version, kind="incident", category="fire", status=status,
        severity="Severe", urgency="Immediate", certainty="Observed", lat=-1.25, lon=116.83,
        zone="Balikpapan Kota", agencies=("damkar",), evidence=("report:1",), sources=("reports",),
        first_seen=at, last_seen=at, score=0.9, explanation="fire", signal_count=1,
    )  # fmt: skip


@pytest.fixture
def sink(isolated_settings):
    s = isolated_settings
    part = RedisIncidentSink(s.redis.url, s.redis.prefix, closed_retention_s=3600).build("t", 0, 1)
    yield part, redis.Redis.from_url(s.redis.url), Keys(s.redis.prefix)
    part.close()


def test_replayed_and_stale_versions_change_nothing(sink):
    part, r, keys = sink
    part.write_batch([incident("A", 1), incident("A", 2)])
    part.write_batch([incident("A", 1), incident("A", 2)])  # a replay after a crash
    entries = r.xrange(keys.alerts)
    assert [(e[1][b"id"], e[1][b"version"]) for e in entries] == [(b"A", b"1"), (b"A", b"2")]
    assert orjson.loads(r.hget(keys.incident("A"), "json"))["version"] == 2
    assert r.zscore(keys.incidents, "A") == T0.timestamp()
    assert r.geopos(keys.geo, "A")[0] is not None


def test_closed_incidents_leave_the_map_expire_and_age_out_of_the_index(sink):
    part, r, keys = sink
    part.write_batch([incident("OLD", 1), replace(incident("OLD", 2, "closed"))])
    assert r.geopos(keys.geo, "OLD")[0] is None
    assert 0 < r.ttl(keys.incident("OLD")) <= 3600
    later = T0 + timedelta(hours=2)
    part.write_batch([incident("NEW", 1, at=later), incident("NEW", 2, "closed", at=later)])
    assert r.zscore(keys.incidents, "OLD") is None, "closed beyond the retention: out of the index"
    assert r.zscore(keys.incidents, "NEW") is not None
