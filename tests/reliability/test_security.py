"""Security: authentication and agency scope, hashed tokens, no personal data in clear, CORS,
and the wall's security headers.

The scenario test runs the real dataflow and API: citizens post reports with their phone
numbers, e-mail addresses and names in clear at the Open311 intake; afterwards every Kafka
topic, every Redis key and value and every log is scanned for them.
"""

from __future__ import annotations

import dataclasses
import inspect
import time

import httpx
import pytest
import redis
from confluent_kafka import Consumer, TopicPartition

from kendali import tokens
from kendali.city import load_city
from kendali.store import Keys
from tests.reliability.apirun import Api, token
from tests.reliability.flowrun import (
    end_offsets,
    flow_child,
    publish,
    scenario_messages,
    settle,
    stack_settings,
)

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

PHONES = [f"0812-5{i:03d}-77{i:02d}" for i in range(8)]
SECRETS = [*PHONES, "warga.bpn@example.id", "Siti Rahmawati"]


def _needles() -> list[bytes]:
    """Each secret as written, and phones as bare digits and in +62 form."""
    out = [s.encode() for s in SECRETS]
    for phone in PHONES:
        digits = phone.replace("-", "")
        out += [digits.encode(), ("62" + digits[1:]).encode()]
    return out


def _topic_values(settings, timeout: float = 30) -> list[bytes]:
    """Keys, values and header values of every message in every topic of ``settings``."""
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka.bootstrap, "group.id": "pii-scan", "log_level": 0}
    )
    out, seen = [], 0
    try:
        parts = [
            TopicPartition(t, p, 0)
            for t in settings.all_topics()
            for p in range(settings.topics.partitions)
        ]
        total = sum(consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts)
        consumer.assign(parts)
        deadline, idle = time.monotonic() + timeout, 0
        while idle < 4 and time.monotonic() < deadline:  # until 2 s without a message
            batch = consumer.consume(5000, 0.5)
            idle = 0 if batch else idle + 1
            for msg in batch:
                if msg.error() is None:
                    seen += 1
                    out += [msg.key() or b"", msg.value() or b""]
                    out += [v for _, v in msg.headers() or []]
    finally:
        consumer.close()
    assert seen >= total, f"read {seen} of at least {total} messages"
    return out


def _redis_dump(settings) -> list[bytes]:
    client = redis.Redis.from_url(settings.redis.url)
    out = []
    try:
        for key in client.scan_iter(f"{settings.redis.prefix}:*"):
            out.append(key)
            kind = client.type(key)
            if kind == b"string":
                out.append(client.get(key))
            elif kind == b"hash":
                out += [b for kv in client.hgetall(key).items() for b in kv]
            elif kind == b"stream":
                out += [b for _, f in client.xrange(key) for kv in f.items() for b in kv]
            elif kind == b"zset":
                out += client.zrange(key, 0, -1)
    finally:
        client.close()
    return out


def _post_reports(api: Api) -> None:
    url = f"{api.base}/open311/v2/requests.json"
    for i, phone in enumerate(PHONES):
        form = {
            "service_code": "fire",
            "lat": "-1.2654",
            "long": "116.8312",
            "description": "Kebakaran di dekat pasar, asap tebal",
            "phone": phone,
            "email": "warga.bpn@example.id" if i % 2 else "",
            "first_name": "Siti Rahmawati",
        }
        resp = httpx.post(url, data=form, timeout=15)
        assert resp.status_code == 201, resp.text


@pytest.fixture(scope="module")
def scenario(stack, tmp_path_factory):
    """Flow and API over the scenario plus reports posted with personal data in clear."""
    tmp_path = tmp_path_factory.mktemp("security")
    settings = stack_settings(stack, tmp_path)
    flow = flow_child(settings, tmp_path / "flow.log").start()
    api = Api(settings, tmp_path / "api.log").start()
    try:
        publish(settings, scenario_messages(settings, hours=6))
        _post_reports(api)
        result = settle(settings, flow, end_offsets(settings))
        yield settings, api, result, tmp_path
    finally:
        api.stop()
        flow.stop()


def test_no_personal_data_in_kafka_redis_or_logs(scenario):
    settings, _, _, tmp_path = scenario
    hay = {
        "kafka": _topic_values(settings),
        "redis": _redis_dump(settings),
        "logs": [p.read_bytes() for p in tmp_path.glob("*.log")],
    }
    assert hay["kafka"] and hay["redis"]
    assert any(b"rp_" in v for v in hay["kafka"]), "reports carry a reporter pseudonym"
    leaks = [
        (where, needle)
        for where, values in hay.items()
        for needle in _needles()
        for v in values
        if needle in v
    ]
    assert not leaks, f"personal data in clear: {sorted(set(leaks))[:10]}"


def _act(api: Api, incident_id: str, bearer: str | None, **params) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return httpx.post(
        f"{api.base}/api/incidents/{incident_id}/actions",
        json={"action": "annotate", "note": "checked"},
        headers=headers,
        params=params,
        timeout=15,
    )


def test_write_endpoints_need_a_token_and_the_right_agency(scenario):
    settings, api, result, _ = scenario
    incident = httpx.get(f"{api.base}/api/incidents", timeout=10).json()["items"][0]
    routed = incident["agencies"][0]
    other = next(a for a in load_city(settings.city).agencies if a not in incident["agencies"])
    assert incident["id"] in result.incidents
    own, foreign, viewer = (
        token(settings, "operator", routed),
        token(settings, "operator", other),
        token(settings, "viewer"),
    )
    assert _act(api, incident["id"], None).status_code == 401
    assert _act(api, incident["id"], "kdl_not-a-token").status_code == 401
    assert _act(api, incident["id"], None, access_token=own).status_code == 401, "GET only"
    assert _act(api, incident["id"], viewer).status_code == 403
    refused = _act(api, incident["id"], foreign)
    assert refused.status_code == 403 and routed in refused.text, refused.text
    allowed = _act(api, incident["id"], own)
    assert allowed.status_code == 200, allowed.text


def test_stream_needs_a_token(isolated_settings, tmp_path):
    api = Api(isolated_settings, tmp_path / "api.log").start()
    viewer = token(isolated_settings)
    url = f"{api.base}/api/stream"
    try:
        assert httpx.get(url, timeout=5).status_code == 401
        assert httpx.get(url, params={"access_token": "kdl_wrong"}, timeout=5).status_code == 401
        for kwargs in (
            {"params": {"access_token": viewer}},
            {"headers": {"Authorization": f"Bearer {viewer}"}},
        ):
            with httpx.stream("GET", url, timeout=5, **kwargs) as resp:
                assert resp.status_code == 200
                assert resp.headers["content-type"].startswith("text/event-stream")
    finally:
        api.stop()


def test_tokens_are_stored_hashed_and_compared_in_constant_time(isolated_settings):
    secret = token(isolated_settings, "supervisor")
    client = redis.Redis.from_url(isolated_settings.redis.url)
    try:
        stored = client.hgetall(Keys(isolated_settings.redis.prefix).tokens)
    finally:
        client.close()
    assert tokens.hash_token(secret).encode() in stored
    assert not any(secret.encode() in k or secret.encode() in v for k, v in stored.items())
    assert "compare_digest" in inspect.getsource(tokens.lookup)


def test_cors_only_for_configured_origins(isolated_settings, tmp_path):
    allowed = "https://wall.kendali.example"
    settings = dataclasses.replace(
        isolated_settings, api=dataclasses.replace(isolated_settings.api, cors_origins=(allowed,))
    )
    api = Api(settings, tmp_path / "api.log").start()
    url = f"{api.base}/api/incidents"
    try:
        for origin, expected in ((allowed, allowed), ("https://evil.example", None)):
            pre = httpx.options(
                url,
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
                timeout=5,
            )
            simple = httpx.get(url, headers={"Origin": origin}, timeout=5)
            assert pre.headers.get("access-control-allow-origin") == expected
            assert simple.headers.get("access-control-allow-origin") == expected
    finally:
        api.stop()


def test_wall_security_headers(isolated_settings, tmp_path):
    api = Api(isolated_settings, tmp_path / "api.log").start()
    try:
        resp = httpx.get(f"{api.base}/wall", timeout=5)
    finally:
        api.stop()
    assert resp.status_code == 200
    policy = resp.headers["content-security-policy"]
    csp = {name: value for name, _, value in (p.strip().partition(" ") for p in policy.split(";"))}
    assert csp["script-src"] == "'self'", csp
    assert "unsafe-inline" not in policy
    assert "http" not in csp["default-src"] + csp["connect-src"] + csp["script-src"]
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert resp.headers["x-content-type-options"] == "nosniff"
    page = resp.text.replace(" ", "")
    assert "<script>" not in page, "no inline script"
    assert 'src="http' not in page and 'href="http' not in page, "no external origin"
