"""The decoder's fast ATCS path must give exactly the codec's records and rejection reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from bytewax.connectors.kafka import KafkaSourceMessage
from hypothesis import given, settings
from hypothesis import strategies as st

from kendali.codec import Rejected, decode_traffic
from kendali.records import DeadLetter
from kendali.settings import Settings
from sources.kafka_decode import Decoded, Decoder

SETTINGS = Settings()
TOPIC = SETTINGS.topics.traffic
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
LIMITS = SETTINGS.flow.limits

NUMBERS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 200_000),
    st.floats(allow_nan=True, allow_infinity=False),
    st.sampled_from([0, 0.0, 100, 100.0, 300, 1e5, 86_400, 86_401, "12", [1]]),
)
TEXTS = st.one_of(st.none(), st.sampled_from(["D1", "", "  ", "A01", "x" * 201, 5]), st.text())
TIMES = st.one_of(
    st.sampled_from(
        [
            "2026-11-27T08:05:00+08:00",
            "2026-11-27T08:05:00",
            "2026-11-27T16:30:00+08:00",
            "1990-01-01T00:00:00Z",
            "not a time",
            "2026-11-27T07:59:00Z",
        ]
    ),
    st.integers(-(10**6), 10**6),
    st.none(),
)
FIELDS = {
    "detector_id": TEXTS,
    "intersection": TEXTS,
    "approach": TEXTS,
    "ts": TIMES,
    "interval_s": NUMBERS,
    "volume": NUMBERS,
    "occupancy": NUMBERS,
    "speed": NUMBERS,
    "schema": st.sampled_from([1, 2, 1.0, True, "1"]),
}
READING = st.fixed_dictionaries(
    {}, optional={name: strategy for name, strategy in FIELDS.items()}
).map(orjson.dumps)
RAW = st.one_of(READING, st.binary(max_size=40), st.none(), st.just(b"[1, 2]"))


def _decoder() -> Decoder:
    return Decoder(SETTINGS.topics, LIMITS, now=lambda: NOW)


def _msg(value: bytes | None, offset: int) -> KafkaSourceMessage:
    return KafkaSourceMessage(b"k", value, topic=TOPIC, partition=1, offset=offset)


@settings(max_examples=400, deadline=None)
@given(st.lists(RAW, min_size=1, max_size=20))
def test_fast_path_matches_the_codec(values):
    out = _decoder()([_msg(v, i) for i, v in enumerate(values)])
    for item, value in zip(out, values, strict=True):
        expected = decode_traffic(value, now=NOW, limits=LIMITS)
        if isinstance(expected, Rejected):
            assert isinstance(item, DeadLetter)
            assert item.reason == expected.reason
        else:
            assert isinstance(item, Decoded)
            assert item.record == expected
            assert item.record.ts.utcoffset() == expected.ts.utcoffset()


def test_one_timestamp_judged_against_each_batch_clock():
    clock = [NOW]
    decoder = Decoder(SETTINGS.topics, LIMITS, now=lambda: clock[0])
    value = orjson.dumps(
        {
            "detector_id": "D1",
            "intersection": "A01",
            "approach": "N",
            "ts": (NOW + timedelta(minutes=90)).isoformat(),
            "interval_s": 60,
            "volume": 3,
        }
    )
    assert isinstance(decoder([_msg(value, 0)])[0], DeadLetter)
    clock[0] = NOW + timedelta(hours=1)
    assert isinstance(decoder([_msg(value, 1)])[0], Decoded)
