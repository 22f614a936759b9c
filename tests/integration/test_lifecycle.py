"""A full incident lifecycle through the API against the running dataflow, with its refusals."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis

from kendali.city import load_city
from kendali.codec import encode
from kendali.records import Complaint
from kendali.store import Keys
from kendali.tokens import create_token
from sources.publish import KafkaPublisher
from tests.integration.test_end_to_end import running  # noqa: F401 (the servers fixture)
from tests.support import wait_until

pytestmark = pytest.mark.integration


def publish_reports(settings, place: str, text: str, ids: range, start: datetime) -> None:
    lon, lat = load_city(settings.city).places[place]
    publisher = KafkaPublisher(settings)
    for i in ids:
        report = Complaint(
            f"{place}-{i}", "112", start + timedelta(seconds=20 * i), text, None,
            lat + 0.0003 * math.sin(i), lon + 0.0003 * math.cos(i),
        )  # fmt: skip
        publisher("complaints", report.id.encode(), encode(report))
    publisher.flush()


def tokens(settings) -> dict[str, dict[str, str]]:
    keys = Keys(settings.redis.prefix)
    grants = {"viewer": None, "operator": "damkar", "supervisor": None}
    out = {}
    with redis.Redis.from_url(settings.redis.url) as r:
        for role, agency in grants.items():
            out[role] = {"Authorization": f"Bearer {create_token(r, keys, role, agency)[0]}"}
        out["other"] = {"Authorization": f"Bearer {create_token(r, keys, 'operator', 'pupr')[0]}"}
    return out


def test_acknowledge_dispatch_resolve_with_auth_refusals_and_no_raising_again(running):  # noqa: F811
    settings, base, flow = running
    auth = tokens(settings)
    now = datetime.now(UTC).replace(microsecond=0)
    publish_reports(settings, "pasar pandansari", "kebakaran rumah, api besar", range(3), now)

    def fire():
        items = httpx.get(f"{base}/api/incidents", params={"category": "fire"}, timeout=5).json()
        return items["items"]

    (inc,) = wait_until(fire, 60, "the fire incident", flow)
    assert "damkar" in inc["agencies"] and "pupr" not in inc["agencies"]
    url = f"{base}/api/incidents/{inc['id']}/actions"

    def act(action: str, who: str | None, **body) -> httpx.Response:
        headers = auth[who] if who else {}
        return httpx.post(url, json={"action": action, **body}, headers=headers, timeout=10)

    assert act("acknowledge", None).status_code == 401
    assert act("acknowledge", "viewer").status_code == 403
    refused = act("acknowledge", "other")
    assert refused.status_code == 403 and "routed to pupr" in refused.json()["detail"]

    acked = act("acknowledge", "operator")
    assert acked.status_code == 200, acked.text
    assert acked.json()["incident"]["status"] == "acknowledged"
    again = act("acknowledge", "operator")
    assert again.status_code == 409 and "'acknowledged'" in again.json()["detail"]
    dispatched = act("dispatch", "operator", agency="damkar", unit="PMK-07", note="2 trucks")
    assert dispatched.json()["incident"]["status"] == "dispatched"
    resolved = act("resolve", "supervisor", note="fire out")
    assert resolved.status_code == 200 and resolved.json()["incident"]["status"] == "resolved"
    version = resolved.json()["incident"]["version"]

    # more calls about the same fire join its (suppressed) episode: no new version, no new fire;
    # a report elsewhere, published after them, shows the flow has read past them
    publish_reports(settings, "pasar pandansari", "kebakaran rumah", range(3, 6), now)
    publish_reports(settings, "bandara sepinggan", "tabrakan motor, ada korban", range(1), now)

    def marker():
        items = httpx.get(f"{base}/api/incidents", timeout=5).json()["items"]
        return [i for i in items if i["category"] != "fire"]

    wait_until(marker, 60, "the marker report's incident", flow)
    (still,) = fire()
    assert (still["id"], still["status"], still["version"]) == (inc["id"], "resolved", version)

    history = httpx.get(
        f"{base}/api/incidents/{inc['id']}/history", headers=auth["viewer"], timeout=5
    ).json()
    steps = [(e["action"], e["previous_status"], e["role"]) for e in history["audit"]]
    assert steps == [
        ("acknowledge", "new", "operator"),
        ("dispatch", "acknowledged", "operator"),
        ("resolve", "dispatched", "supervisor"),
    ]
