"""Operator actions through the API: refusals, publication, the audit log, waiting for the flow."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from api.routers import actions as actions_router
from detectors.lifecycle import RESULT
from kendali.actions import Action, decode_action
from tests.api.conftest import incident


def consume(settings, n: int, timeout: float = 10.0) -> list[Action]:
    """The first ``n`` actions on the actions topic (partitions assigned: no group join)."""
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": "t"})
    topic = settings.topics.actions
    consumer.assign(
        [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(settings.topics.partitions)]
    )
    out = []
    try:
        for _ in range(int(timeout / 0.2)):
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                out.append(decode_action(msg.value()))
                if len(out) == n:
                    break
    finally:
        consumer.close()
    return out


class FakeFlow(threading.Thread):
    """Stands in for the dataflow: applies the first action it consumes by writing a version."""

    def __init__(self, api, current):
        super().__init__(daemon=True)
        self.api, self.current = api, current

    def run(self):
        (action,) = consume(self.api.settings, 1)
        self.api.write(replace(self.current, version=2, status=RESULT[action.action]))


def post(api, body, headers, incident_id="INC-a"):
    return api.client.post(f"/api/incidents/{incident_id}/actions", json=body, headers=headers)


def test_an_action_is_published_audited_and_answered_with_the_applied_version(api):
    inc = incident()
    api.write(inc)
    FakeFlow(api, inc).start()
    ops = api.token("operator", "damkar")
    body = {"action": "dispatch", "agency": "damkar", "unit": "PMK-3", "note": "2 trucks"}
    r = post(api, body, ops)
    assert r.status_code == 200, r.text
    assert r.json()["applied"] is True
    assert (r.json()["incident"]["status"], r.json()["incident"]["version"]) == ("dispatched", 2)
    history = api.client.get("/api/incidents/INC-a/history", headers=ops).json()
    (entry,) = history["audit"]
    assert entry["action_id"] == r.json()["action_id"]
    assert (entry["action"], entry["previous_status"], entry["previous_version"]) == (
        "dispatch", "new", 1,
    )  # fmt: skip
    assert entry["fields"] == {"agency": "damkar", "unit": "PMK-3", "note": "2 trucks"}
    assert entry["agency"] == "damkar" and entry["role"] == "operator"


def test_not_applied_in_time_is_202_with_the_action_id(api, monkeypatch):
    monkeypatch.setattr(actions_router, "WAIT_S", 0.3)
    api.write(incident())
    r = post(api, {"action": "acknowledge"}, api.token("supervisor"))
    assert r.status_code == 202 and r.json()["applied"] is False
    (published,) = consume(api.settings, 1)
    assert (published.id, published.incident_id, published.zone) == (
        r.json()["action_id"], "INC-a", "Balikpapan Kota",
    )  # fmt: skip
    assert published.actor.startswith("supervisor-all-")


def test_refusals_say_why(api):
    api.write(
        incident(), incident("INC-b", status="dispatched"), incident("INC-c", status="closed")
    )
    sup = api.token("supervisor")
    r = post(api, {"action": "acknowledge"}, sup, "INC-b")
    assert (
        r.status_code == 409
        and "cannot acknowledge an incident that is 'dispatched'" in (r.json()["detail"])
    )
    assert post(api, {"action": "acknowledge"}, sup, "NOPE").status_code == 404
    r = post(api, {"action": "dispatch", "agency": "nasa"}, sup)
    assert r.status_code == 422 and "unknown agency" in r.json()["detail"]
    assert post(api, {"action": "merge"}, sup).status_code == 422
    assert post(api, {"action": "merge", "into": "INC-a"}, sup).status_code == 409
    assert post(api, {"action": "merge", "into": "INC-c"}, sup).status_code == 409
    assert post(api, {"action": "merge", "into": "INC-z"}, sup).status_code == 404
    assert post(api, {"action": "shout"}, sup).status_code == 422
    assert api.redis.exists(api.keys.audit("INC-a")) == 0


def test_an_operator_cannot_merge_into_another_agencys_incident(api):
    api.write(incident(), incident("INC-f", category="flood", agencies=("bpbd",)))
    r = post(api, {"action": "merge", "into": "INC-f"}, api.token("operator", "damkar"))
    assert r.status_code == 403 and "INC-f" in r.json()["detail"]


def test_merge_publishes_both_halves_and_audits_both_incidents(api, monkeypatch):
    monkeypatch.setattr(actions_router, "WAIT_S", 0.2)
    api.write(incident(), incident("INC-b", zone="Balikpapan Tengah", evidence=("report:9",)))
    r = post(api, {"action": "merge", "into": "INC-a", "note": "same fire"}, api.token("admin"),
             "INC-b")  # fmt: skip
    assert r.status_code == 202
    merge, absorb = sorted(consume(api.settings, 2), key=lambda a: a.action, reverse=True)
    assert (merge.action, merge.incident_id, merge.fields["into"]) == ("merge", "INC-b", "INC-a")
    assert (absorb.action, absorb.incident_id, absorb.zone) == (
        "absorb",
        "INC-a",
        "Balikpapan Kota",
    )
    assert absorb.fields["evidence"] == ["report:9"] and absorb.fields["source"] == "INC-b"
    assert api.redis.xlen(api.keys.audit("INC-a")) == api.redis.xlen(api.keys.audit("INC-b")) == 1


def test_annotations_are_audit_only_and_the_log_cannot_be_edited(api):
    api.write(incident())
    sup = api.token("supervisor")
    r = post(api, {"action": "annotate", "note": "caller says 2 floors"}, sup)
    assert r.status_code == 200 and r.json()["incident"]["version"] == 1
    (entry,) = api.client.get("/api/incidents/INC-a/history", headers=sup).json()["audit"]
    assert entry["fields"] == {"note": "caller says 2 floors"}
    for method in ("PUT", "PATCH", "DELETE"):
        assert (
            api.client.request(method, "/api/incidents/INC-a/history", headers=sup).status_code
            == 405
        )


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_history_is_readable_by_any_token(api, role):
    api.write(incident())
    headers = api.token(role, "police" if role == "operator" else None)
    assert api.client.get("/api/incidents/INC-a/history", headers=headers).status_code == 200
