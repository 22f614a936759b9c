"""Fuzz run through the running dataflow: 10,000 malformed messages per input topic.

Random bytes, truncated JSON, wrong types, huge numbers, NaN/inf, unicode tricks, timestamps in
1970 and 2100, duplicate keys and three 5 MB payloads per topic, mixed with valid scenario
messages (some sent twice). The flow must not crash, every malformed message must come out on
the dead-letter topic with a reason, no valid message may, and the valid ones must still be
processed (their incidents appear, with no duplicate alert version).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition

from sources.publish import KafkaPublisher
from tests.reliability.flowrun import end_offsets, flow_child, scenario_messages, settle
from tests.reliability.hostile import HOSTILE_TS, malformed_values
from tests.support import ROOT

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

PER_TOPIC = 10_000
CAP = (ROOT / "tests" / "fixtures" / "cap" / "bmkg_heavy_rain_alert.xml").read_bytes()


def _bases() -> dict[str, tuple[bytes, tuple[str, ...], tuple[str, ...]]]:
    """Per stream: a valid JSON record to damage, its strict fields, its bad timestamps."""
    now = datetime.now(UTC).isoformat()
    traffic = {
        "detector_id": "BPN-A04-EB",
        "intersection": "A04",
        "approach": "EB",
        "ts": now,
        "interval_s": 300,
        "volume": 40,
        "occupancy": 12.5,
        "speed": 35.0,
    }
    hydromet = {"station": "G1", "kind": "river", "ts": now, "interval_s": 600, "level_cm": 150}
    complaint = {"id": "r1", "channel": "112", "ts": now, "lat": -1.25, "lon": 116.85}
    action = {
        "id": "a1",
        "incident_id": "INC-1",
        "action": "acknowledge",
        "actor": "ops",
        "role": "operator",
        "ts": now,
    }
    unparseable = tuple(t for t in HOSTILE_TS if "+" not in t)
    return {
        "traffic": (orjson.dumps(traffic), ("ts", "volume", "speed"), HOSTILE_TS),
        "hydromet": (orjson.dumps(hydromet), ("ts", "level_cm"), HOSTILE_TS),
        "complaints": (orjson.dumps(complaint), ("ts", "lat", "lon"), HOSTILE_TS),
        "actions": (orjson.dumps(action), ("ts",), unparseable),
        "warnings": (orjson.dumps(traffic), ("ts",), HOSTILE_TS),
    }


def _malformed(stream: str, seed: int) -> list[bytes]:
    valid, strict, times = _bases()[stream]
    values = malformed_values(PER_TOPIC, seed, valid, strict, times=times)
    if stream == "warnings":  # and truncated CAP XML
        end = CAP.rindex(b"</alert>")
        rng = random.Random(seed)
        values[::5] = [CAP[: rng.randrange(end)] for _ in values[::5]]
    return values


def _dead_letters(settings, expected: int, timeout: float = 120) -> list:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap,
            "group.id": "reliability-dlq",
            "enable.auto.commit": False,
            "fetch.max.bytes": 60_000_000,
        }
    )
    topic = settings.topics.deadletter
    consumer.assign([TopicPartition(topic, p, 0) for p in range(settings.topics.partitions)])
    out, deadline = [], time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is None:
                    out.append(dict(msg.headers() or []))
    finally:
        consumer.close()
    return out


def test_fuzz_10000_malformed_per_topic_all_dead_lettered(isolated_settings, tmp_path):
    settings = isolated_settings
    valid = scenario_messages(settings, hours=6)
    publisher = KafkaPublisher(settings, **{"message.max.bytes": 12_000_000})
    flow = flow_child(settings, tmp_path / "flow.log").start()
    streams = ("traffic", "hydromet", "complaints", "actions", "warnings")
    bad = {s: _malformed(s, seed) for seed, s in enumerate(streams)}
    rng = random.Random(9)
    try:
        for i, message in enumerate(valid):
            publisher(*message)
            if i % 40 == 0:  # duplicates of valid messages are not errors
                publisher(*message)
            for stream in streams:
                for value in bad[stream][
                    i * PER_TOPIC // len(valid) : (i + 1) * PER_TOPIC // len(valid)
                ]:
                    publisher(stream, str(rng.random()).encode(), value)
        publisher.flush(120)
        outcome = settle(settings, flow, end_offsets(settings), timeout=150)
        letters = _dead_letters(settings, PER_TOPIC * len(streams))
        assert flow.alive(), flow.tail()
        log = flow.tail(10_000_000)
    finally:
        flow.stop()
    topics = {getattr(settings.topics, s): s for s in streams}
    by_topic = Counter(topics.get(h.get("kendali.topic", b"").decode()) for h in letters)
    assert by_topic == {s: PER_TOPIC for s in streams}, by_topic
    assert all(h.get("kendali.reason") for h in letters), "every dead letter says why"
    assert outcome.incidents, "the valid messages around the garbage still make incidents"
    assert len(outcome.alerts) == len(set(outcome.alerts))
    assert "Traceback" not in log, "no step may raise on hostile input"
