"""The column path for ATCS must give exactly the codec's records and rejection reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from bytewax.connectors.kafka import KafkaSourceMessage
from confluent_kafka import KafkaError, Message
from hypothesis import given, settings
from hypothesis import strategies as st

from kendali.codec import Rejected, decode_traffic
from kendali.records import DeadLetter, TrafficReading
from kendali.settings import Settings
from sources.kafka_batches import MessageBatch
from sources.kafka_decode import Decoded, Decoder, TrafficDecoded

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


def _decode(decoder: Decoder, values: list) -> dict[int, object]:
    """Offset -> DeadLetter or decoded TrafficReading, for one batch of traffic messages."""
    out: dict[int, object] = {}
    for item in decoder([_msg(v, i) for i, v in enumerate(values)]):
        if isinstance(item, DeadLetter):
            out[item.offset] = item
        else:
            assert isinstance(item, TrafficDecoded)
            for row, position in enumerate(item.columns.index.tolist()):
                sent = orjson.loads(values[position])  # the texts the columns do not carry
                out[position] = item.columns.reading(row, sent["intersection"], sent["approach"])
                assert item.letter(position, "why").offset == position
    return out


@settings(max_examples=400, deadline=None)
@given(st.lists(RAW, min_size=1, max_size=20))
def test_traffic_decoding_matches_the_codec(values):
    out = _decode(_decoder(), values)
    assert sorted(out) == list(range(len(values)))
    for offset, value in enumerate(values):
        expected = decode_traffic(value, now=NOW, limits=LIMITS)
        item = out[offset]
        if isinstance(expected, Rejected):
            assert isinstance(item, DeadLetter)
            assert (item.reason, item.value, item.partition) == (expected.reason, value, 1)
        else:
            assert item == expected
            assert item.ts.utcoffset() == expected.ts.utcoffset()


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
    assert isinstance(_decode(decoder, [value])[0], DeadLetter)
    clock[0] = NOW + timedelta(hours=1)
    assert isinstance(_decode(decoder, [value])[0], TrafficReading)


def test_other_topics_decode_one_by_one_and_unknown_topics_are_dead_letters():
    hydromet = orjson.dumps(
        {"station": "G1", "kind": "river", "ts": NOW.isoformat(), "interval_s": 600,
         "level_cm": 120}
    )  # fmt: skip
    msgs = [
        KafkaSourceMessage(b"g", hydromet, topic=SETTINGS.topics.hydromet, partition=0, offset=4),
        KafkaSourceMessage(b"x", b"{}", topic="elsewhere", partition=0, offset=9),
    ]
    first, second = _decoder()(msgs)
    assert isinstance(first, Decoded) and first.stream == "hydromet" and first.offset == 4
    assert isinstance(second, DeadLetter) and "no decoder" in second.reason


def _raw(value: bytes | None, offset: int, error: KafkaError | None = None) -> Message:
    """A consumed message as the Kafka client hands it over."""
    return Message(topic=TOPIC, partition=3, offset=offset, key=b"k", value=value, error=error)


def test_consumer_errors_inside_a_batch_are_dead_letters_and_the_rest_decodes():
    good = orjson.dumps(
        {"detector_id": "D1", "intersection": "A01", "approach": "N",
         "ts": NOW.isoformat(), "interval_s": 60, "volume": 3}
    )  # fmt: skip
    gone = KafkaError(KafkaError._TRANSPORT, "broker gone")
    batch = MessageBatch(TOPIC, 3, [_raw(good, 7), _raw(None, 8, gone), _raw(good, 9)], 1)
    out = _decoder()([batch])
    dead = [x for x in out if isinstance(x, DeadLetter)]
    assert [(d.offset, d.reason) for d in dead] == [(8, f"consumer error: {gone}")]
    assert "broker gone" in dead[0].reason
    (traffic,) = [x for x in out if isinstance(x, TrafficDecoded)]
    assert len(traffic.columns) == 2 and traffic.letter(1, "why").offset == 9
