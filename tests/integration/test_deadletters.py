"""Malformed messages on every input topic reach the real dead-letter topic, the flow lives on."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from kendali.city import load_city
from kendali.codec import encode
from kendali.processes import Child, flow_command, server_env
from kendali.records import Complaint
from tests.support import ROOT, wait_until

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
TRAFFIC = {"detector_id": "BPN-A01-EB", "intersection": "A01", "approach": "EB",
           "ts": NOW.isoformat(), "interval_s": 300, "volume": 20}  # fmt: skip
BAD = {
    "traffic": {
        "not json": b"{{{",
        "wrong type": orjson.dumps({**TRAFFIC, "volume": "lots"}),
        "missing field": orjson.dumps({"detector_id": "BPN-A01-EB"}),
        "infinity": orjson.dumps(TRAFFIC)[:-1] + b', "speed": 1e999}',
        "far future": orjson.dumps({**TRAFFIC, "ts": (NOW + timedelta(days=900)).isoformat()}),
        "too large": orjson.dumps({**TRAFFIC, "pad": "x" * 100_000}),
    },
    "hydromet": {
        "not json": b"\xff",
        "wrong type": orjson.dumps(
            {
                "station": "KLANDASAN",
                "kind": "river",
                "ts": NOW.isoformat(),
                "interval_s": 600,
                "level_cm": [],
            }
        ),
        "missing field": orjson.dumps({"station": "KLANDASAN"}),
    },
    "complaints": {
        "not json": b"",
        "wrong type": orjson.dumps(
            {"id": 5, "channel": "app", "ts": NOW.isoformat(), "lat": -1.25, "lon": 116.85}
        ),
        "missing field": orjson.dumps({"channel": "app"}),
    },
    "warnings": {
        "not xml": b"<alert",
        "entity expansion": b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
    },
}


def fire(n: int, lon: float, lat: float) -> list[Complaint]:
    return [
        Complaint(f"ok-{uuid.uuid4().hex[:6]}-{i}", "112", NOW - timedelta(minutes=20 - i),
                  "kebakaran gudang", None, lat + 0.0003 * math.sin(i), lon + 0.0003 * math.cos(i))
        for i in range(n)
    ]  # fmt: skip


def test_every_bad_message_is_dead_lettered_and_good_ones_still_flow(isolated_settings, tmp_path):
    settings = isolated_settings
    topics = {
        "traffic": settings.topics.traffic,
        "hydromet": settings.topics.hydromet,
        "complaints": settings.topics.complaints,
        "warnings": settings.topics.warnings,
    }
    flow = Child("dataflow", flow_command(settings, recovery=False), server_env(settings),
                 tmp_path / "flow.log", cwd=ROOT).start()  # fmt: skip
    try:
        producer = Producer({"bootstrap.servers": settings.kafka.bootstrap,
                             "message.max.bytes": 2_000_000})  # fmt: skip
        expected = {}
        for stream, cases in BAD.items():
            for label, raw in cases.items():
                key = f"{stream}/{label}".encode()
                expected[key] = raw
                producer.produce(topics[stream], raw, key)
        city = load_city(settings.city)
        lon, lat = city.places["lapangan merdeka"]
        for report in fire(10, lon, lat):
            producer.produce(topics["complaints"], encode(report), report.id.encode())
        assert producer.flush(10) == 0

        consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": "t",
                             "auto.offset.reset": "earliest"})  # fmt: skip
        consumer.assign([TopicPartition(settings.topics.deadletter, p, OFFSET_BEGINNING)
                         for p in range(settings.topics.partitions)])  # fmt: skip
        got = {}

        def all_dead():
            for msg in consumer.consume(100, timeout=0.5):
                if msg.error() is None:
                    got[msg.key()] = (msg.value(), dict(msg.headers() or []))
            return len(got) >= len(expected)

        wait_until(all_dead, 60, "every bad message in the dead-letter topic", flow)
        consumer.close()
        assert set(got) == set(expected)
        for key, (value, headers) in got.items():
            assert value == expected[key], key
            assert headers["kendali.reason"], key
            assert headers["kendali.topic"].decode() in topics.values()
        assert flow.alive()

        client = redis.Redis.from_url(settings.redis.url)

        def fire_incident():
            for raw in client.zrange(f"{settings.redis.prefix}:incidents", 0, -1):
                blob = client.hget(f"{settings.redis.prefix}:incident:{raw.decode()}", "json")
                if blob and orjson.loads(blob)["category"] == "fire":
                    return True
            return False

        wait_until(fire_incident, 30, "the valid reports to become an incident", flow)
    finally:
        flow.stop()
