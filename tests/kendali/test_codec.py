"""The wire codec refuses bad input with a reason and never raises."""

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kendali.codec import (
    Limits,
    Rejected,
    decode_complaint,
    decode_hydromet,
    decode_traffic,
    encode,
    incident_from_dict,
)
from kendali.records import Complaint, HydrometReading, Incident, TrafficReading
from kendali.store import incident_json

NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
TS = "2026-11-27T08:55:00+08:00"
GOOD = {
    "detector_id": "BPN-A01-EB",
    "intersection": "A01",
    "approach": "EB",
    "ts": TS,
    "interval_s": 300,
    "volume": 40,
    "occupancy": 12.5,
    "speed": 38.0,
}


def reason(raw: bytes) -> str:
    result = decode_traffic(raw, now=NOW)
    assert isinstance(result, Rejected), result
    return result.reason


def test_round_trip_of_every_record():
    ts = datetime(2026, 11, 27, 8, 55, tzinfo=UTC)
    records = [
        (TrafficReading("D", "I", "N", ts, 300, 1.0, 2.0, 3.0), decode_traffic),
        (HydrometReading("S", "river", ts, 600, level_cm=120.0), decode_hydromet),
        (Complaint("r1", "app", ts, "banjir", None, -1.2, 116.8), decode_complaint),
    ]
    for record, decode in records:
        assert decode(encode(record), now=ts) == record


def test_incidents_round_trip_and_older_ones_read_without_merged_into():
    ts = datetime(2026, 11, 27, 8, 55, tzinfo=UTC)
    merged = Incident(
        "INC-1", 3, "incident", "fire", "merged", "Severe", "Immediate", "Likely", -1.27, 116.83,
        "Balikpapan Kota", ("damkar",), ("report:1",), ("reports",), ts, ts, 0.9,
        "Merged into INC-2: fire", merged_into="INC-2",
    )  # fmt: skip
    stored = orjson.loads(incident_json(merged))
    assert incident_from_dict(stored) == merged
    del stored["merged_into"]  # as written before the field existed
    assert incident_from_dict(stored) == dataclasses.replace(merged, merged_into=None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\xff\xfe not json", "not JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (orjson.dumps({**GOOD, "volume": "many"}), "volume must be a number, got str"),
        (orjson.dumps({**GOOD, "occupancy": 140}), "occupancy=140 outside [0, 100]"),
        (b'{"detector_id": "D", "volume": NaN}', "not JSON"),
        (orjson.dumps({**GOOD, "speed": 1e300}), "speed=1e+300 outside"),
        (orjson.dumps({**GOOD, "ts": "2031-01-01T00:00:00+08:00"}), "in the future"),
        (orjson.dumps({**GOOD, "ts": "1970-01-01T00:00:00+00:00"}), "older than"),
        (orjson.dumps({**GOOD, "ts": "2026-11-27T08:55:00"}), "has no UTC offset"),
        (orjson.dumps({**GOOD, "schema": 2}), "unsupported schema version 2"),
        (orjson.dumps({k: v for k, v in GOOD.items() if k != "ts"}), "missing field(s): ts"),
    ],
)
def test_bad_traffic_messages_say_why(raw, expected):
    assert expected in reason(raw)


def test_size_limit():
    raw = orjson.dumps({**GOOD, "pad": "x" * 70_000})
    assert "exceeds the limit of 65536" in reason(raw)
    assert not isinstance(decode_traffic(raw, now=NOW, limits=Limits(max_bytes=10**6)), Rejected)


def test_complaint_needs_a_location():
    raw = orjson.dumps({"id": "r", "channel": "112", "ts": TS, "text": "kebakaran"})
    assert decode_complaint(raw, now=NOW).reason == "report has neither lat/lon nor a place name"


def test_clock_skew_window_is_relative_to_now():
    raw = orjson.dumps({**GOOD, "ts": (NOW + timedelta(minutes=30)).isoformat()})
    assert not isinstance(decode_traffic(raw, now=NOW), Rejected)


@given(st.binary(max_size=300))
def test_random_bytes_never_raise(raw):
    for decode in (decode_traffic, decode_hydromet, decode_complaint):
        decode(raw, now=NOW)


@given(
    st.dictionaries(
        st.sampled_from(list(GOOD)),
        st.one_of(
            st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
        ),
    )
)
def test_random_objects_never_raise(obj):
    result = decode_traffic(json.dumps(obj).encode(), now=NOW)
    assert isinstance(result, Rejected | TrafficReading)
