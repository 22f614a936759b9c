"""The city dataflow in-process (bytewax.testing): decode, dead-letter, detect, incidents."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import orjson
from bytewax.connectors.kafka import KafkaSourceMessage
from bytewax.testing import TestingSink, TestingSource, run_main

from flows.city import FlowSinks, build_flow
from kendali.city import load_city
from kendali.codec import encode
from kendali.records import Complaint, HydrometReading, TrafficReading
from kendali.settings import Settings

SETTINGS = Settings()
T = SETTINGS.topics
CITY = load_city(SETTINGS.city)
NOW = datetime.now(UTC).replace(microsecond=0)


def msg(topic: str, value: bytes | None, offset: int) -> KafkaSourceMessage:
    return KafkaSourceMessage(key=b"k", value=value, topic=topic, partition=0, offset=offset)


def fire_reports(n: int, start: datetime) -> list[Complaint]:
    lon, lat = CITY.places["pasar pandansari"]
    return [
        Complaint(
            f"fire-{i}",
            "112",
            start + timedelta(minutes=i),
            "ada kebakaran rumah, api besar",
            None,
            lat + 0.0004 * math.sin(i),
            lon + 0.0004 * math.cos(i),
        )
        for i in range(n)
    ]


BAD = {
    T.traffic: [
        b"not json at all",
        b'{"detector_id": "BPN-A01-EB"}',
        orjson.dumps(
            {
                "detector_id": "BPN-A01-EB",
                "intersection": "A01",
                "approach": "EB",
                "ts": NOW.isoformat(),
                "interval_s": 300,
                "occupancy": "high",
            }
        ),
        b'{"detector_id": "BPN-A01-EB", "intersection": "A01", "approach": "EB", "ts": "'
        + NOW.isoformat().encode()
        + b'", "interval_s": 300, "speed": 1e999}',
        orjson.dumps(
            {
                "detector_id": "BPN-A01-EB",
                "intersection": "A01",
                "approach": "EB",
                "ts": (NOW + timedelta(days=3650)).isoformat(),
                "interval_s": 300,
                "volume": 3,
            }
        ),
        orjson.dumps(
            {
                "detector_id": "NOPE-1",
                "intersection": "X",
                "approach": "N",
                "ts": NOW.isoformat(),
                "interval_s": 300,
                "volume": 3,
            }
        ),
        b"{" + b'"pad": "' + b"x" * 70_000 + b'"}',
        None,
    ],
    T.hydromet: [
        b"\x00\x01\x02",
        orjson.dumps(
            {
                "station": "AMPAL-MTH",
                "kind": "lake",
                "ts": NOW.isoformat(),
                "interval_s": 600,
                "level_cm": 3,
            }
        ),
        orjson.dumps(
            {
                "station": "NOWHERE",
                "kind": "river",
                "ts": NOW.isoformat(),
                "interval_s": 600,
                "level_cm": 3,
            }
        ),
    ],
    T.complaints: [
        b"[]",
        orjson.dumps({"id": "x", "channel": "app", "ts": NOW.isoformat(), "text": "banjir"}),
        orjson.dumps(
            {
                "id": "y",
                "channel": "app",
                "ts": NOW.isoformat(),
                "text": "banjir",
                "place": "Atlantis",
            }
        ),
    ],
    T.warnings: [
        b"<alert><unclosed>",
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
    ],
}


def run_flow(messages):
    out = {name: [] for name in ("incidents", "alerts", "deadletters", "series")}
    sinks = FlowSinks(**{name: TestingSink(items) for name, items in out.items()})
    flow = build_flow(
        SETTINGS, source=TestingSource(messages, batch_size=50), sinks=sinks, city=CITY
    )
    run_main(flow)
    return out


def test_bad_messages_are_dead_lettered_with_reasons_and_good_ones_still_flow():
    messages, offset = [], 0
    for topic, bads in BAD.items():
        for raw in bads:
            messages.append(msg(topic, raw, offset))
            offset += 1
    for report in fire_reports(12, NOW - timedelta(minutes=30)):
        messages.append(msg(T.complaints, encode(report), offset))
        offset += 1
    messages.append(
        msg(
            T.hydromet,
            encode(HydrometReading("AMPAL-MTH", "river", NOW, 600, level_cm=50.0)),
            offset,
        )
    )
    messages.append(
        msg(
            T.traffic,
            encode(TrafficReading("BPN-A01-EB", "A01", "EB", NOW, 300, 30.0, 10.0, 40.0)),
            offset + 1,
        )
    )
    out = run_flow(messages)

    dead = out["deadletters"]
    assert len(dead) == sum(len(v) for v in BAD.values())
    by_offset = {int(dict(m.headers)["kendali.offset"]): m for m in dead}
    assert sorted(by_offset) == list(range(offset - 12))
    for m in dead:
        headers = dict(m.headers)
        assert headers["kendali.reason"], m
        assert headers["kendali.topic"].decode() in BAD
    reasons = [dict(m.headers)["kendali.reason"].decode() for m in dead]
    assert any("unknown detector 'NOPE-1'" in r for r in reasons)
    assert any("exceeds the limit" in r for r in reasons)
    assert any("in the future" in r for r in reasons)
    assert any("invalid CAP" in r for r in reasons)
    # original bytes are kept
    assert {m.value for m in dead} == {raw for bads in BAD.values() for raw in bads}

    fires = [i for i in out["incidents"] if i.category == "fire"]
    assert fires, [i.explanation for i in out["incidents"]]
    assert len({i.id for i in fires}) == 1, "one fire, one incident"
    assert "damkar" in fires[-1].agencies
    assert [a.key.decode() for a in out["alerts"]] == [i.id for i in out["incidents"]]
    assert {p.source for batch in out["series"] for p in batch} == {"atcs", "hydromet", "reports"}


def test_same_input_same_incidents():
    messages = [msg(T.complaints, encode(r), i) for i, r in enumerate(fire_reports(10, NOW))]
    first, second = run_flow(messages), run_flow(messages)
    assert [(i.id, i.version) for i in first["incidents"]] == [
        (i.id, i.version) for i in second["incidents"]
    ]
    assert first["incidents"]
