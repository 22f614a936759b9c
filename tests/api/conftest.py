"""An API app on the session's Redis and broker, a way to seed incidents, and tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import redis
from fastapi.testclient import TestClient

from api.main import create_app
from kendali.records import Incident
from kendali.settings import Settings
from kendali.store import Keys
from kendali.tokens import create_token
from sinks.redis_incidents import RedisIncidentSink

NOW = datetime.now(UTC).replace(microsecond=0)


def incident(id: str = "INC-a", **changes) -> Incident:
    """A fire in Balikpapan Kota routed to Damkar, version 1, unless told otherwise."""
    values = dict(
        id=id, version=1, kind="incident", category="fire", status="new", severity="Severe",
        urgency="Immediate", certainty="Likely", lat=-1.2745, lon=116.8307,
        zone="Balikpapan Kota", agencies=("damkar", "police"), evidence=("report:1",),
        sources=("reports",), first_seen=NOW, last_seen=NOW, score=0.9,
        explanation="fire reported at Pasar Pandansari",
    )  # fmt: skip
    values.update(changes)
    return Incident(**values)


@dataclass
class Api:
    client: TestClient
    settings: Settings
    redis: redis.Redis
    keys: Keys
    sink: object

    def token(self, role: str, agency: str | None = None) -> dict[str, str]:
        """Authorization headers of a fresh token."""
        token, _ = create_token(self.redis, self.keys, role, agency)
        return {"Authorization": f"Bearer {token}"}

    def write(self, *incidents: Incident) -> None:
        """Write incident versions as the dataflow's Redis sink does."""
        self.sink.write_batch(list(incidents))


@pytest.fixture
def api(isolated_settings) -> Api:
    settings = isolated_settings
    r = redis.Redis.from_url(settings.redis.url)
    sink = RedisIncidentSink(settings.redis.url, settings.redis.prefix).build("seed", 0, 1)
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings, r, Keys(settings.redis.prefix), sink)
    sink.close()
    r.close()
