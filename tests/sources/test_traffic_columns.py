"""The column decoder must accept exactly what the codec accepts, with the codec's reasons."""

from __future__ import annotations

from datetime import timedelta, timezone

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from kendali.codec import Rejected, decode_traffic
from sources import traffic_columns
from sources.traffic_columns import TrafficColumnDecoder
from tests.sources.test_kafka_decode import LIMITS, NOW, RAW, READING

#: Detector numbers as a city gives them; the decoder must ignore the two that are not valid ids.
KNOWN = {"D1": 0, "D7": 1, "D40": 2, " ": 3, "x" * 201: 4}


def _check(values, decoder=None):
    if decoder is None:
        _check(values, TrafficColumnDecoder(LIMITS, KNOWN))
    decoder = decoder or TrafficColumnDecoder(LIMITS)
    cols, rejected = decoder(values, NOW, partition=2)
    valid = {k: v for k, v in KNOWN.items() if v < 3} if decoder._known else {}
    assert cols.code.tolist() == [valid.get(d, -1) for d in cols.ids.tolist()]
    reasons = dict(rejected)
    rows = {int(i): k for k, i in enumerate(cols.index)}
    assert len(rows) == len(cols) and not rows.keys() & reasons.keys()
    assert cols.index.tolist() == sorted(rows) and cols.partition == 2
    for i, value in enumerate(values):
        expected = decode_traffic(value, now=NOW, limits=LIMITS)
        if isinstance(expected, Rejected):
            assert reasons[i] == expected.reason
        else:
            got = cols.reading(rows[i], expected.intersection, expected.approach)
            assert got == expected
            assert got.ts.utcoffset() == expected.ts.utcoffset()
            assert got.ts.isoformat() == expected.ts.isoformat()
            assert cols.t[rows[i]] == expected.ts.timestamp()


@settings(max_examples=400, deadline=None)
@given(st.lists(RAW, min_size=1, max_size=20))
def test_columns_match_the_codec(values):
    _check(values)


@settings(max_examples=200, deadline=None)
@given(st.lists(READING, min_size=1, max_size=30), st.lists(READING, max_size=30))
def test_caches_carry_no_verdict_between_batches(first, second):
    decoder = TrafficColumnDecoder(LIMITS)
    _check(first, decoder)
    _check(second, decoder)


OFFSETS = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.builds(
            lambda when, offset: (NOW - when).astimezone(timezone(offset)).isoformat(),
            st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
            OFFSETS,
        ),
        min_size=1,
        max_size=20,
    )
)
def test_timestamps_come_back_as_sent_to_the_microsecond(times):
    """Columns keep epoch seconds and the offset, not datetimes; the timestamp rebuilt from
    them equals the codec's, offset (even one with seconds) and microseconds included."""
    _check([_reading(ts=ts) for ts in times])


def _reading(**changes) -> bytes:
    base = {
        "detector_id": "D1",
        "intersection": "A01",
        "approach": "N",
        "ts": (NOW - timedelta(minutes=5)).isoformat(),
        "interval_s": 60,
        "volume": 3,
        "occupancy": 12.5,
        "speed": 40.0,
    }
    return orjson.dumps({**base, **changes})


def test_a_clean_batch_takes_no_per_row_path():
    values = [_reading(detector_id=f"D{i}", volume=i % 7) for i in range(500)]
    cols, rejected = TrafficColumnDecoder(LIMITS)(values, NOW)
    assert rejected == [] and len(cols) == 500
    assert cols.values[:, 0].tolist() == [float(i % 7) for i in range(500)]


def test_one_bad_row_spoils_nothing_else():
    values = [_reading(detector_id=f"D{i}") for i in range(10)]
    values[3] = _reading(occupancy=True)
    values[5] = _reading(volume=200_000)
    values[7] = b"{not json"
    cols, rejected = TrafficColumnDecoder(LIMITS)(values, NOW)
    assert [i for i, _ in rejected] == [3, 5, 7]
    assert cols.index.tolist() == [0, 1, 2, 4, 6, 8, 9]
    assert rejected[0][1] == "occupancy must be a number, got bool"


def test_bool_interval_is_not_one_second():
    values = [_reading(interval_s=1), _reading(interval_s=True)]
    cols, rejected = TrafficColumnDecoder(LIMITS)(values, NOW)
    assert cols.index.tolist() == [0] and rejected[0][0] == 1


def test_empty_batch():
    cols, rejected = TrafficColumnDecoder(LIMITS)([], NOW)
    assert len(cols) == 0 and rejected == []


# The one-call path (msgspec, all messages joined by newlines) must give the same verdicts as
# parsing each message on its own, whatever the bytes: these batches are mostly messages it
# takes, with the wire-level oddities that could tell the two parsers apart.
ON_THE_ONE_CALL_PATH = [
    b' {"detector_id":"D9","intersection":"A","approach":"N","ts":"2026-11-27T07:55:00Z",'
    b'"interval_s":60,"volume":1} ',  # whitespace around
    b'{"detector_id":"D9","detector_id":"D8","intersection":"A","approach":"N",'
    b'"ts":"2026-11-27T07:55:00Z","interval_s":60,"volume":1}',  # duplicate key: the last wins
    b'{"detector_id":"D\\u00e9\\/","intersection":"A","approach":"\\u3000",'
    b'"ts":"2026-11-27T07:55:00Z","interval_s":6E1,"speed":1e2}',  # escapes, a blank text
    b'{"detector_id":"D9","intersection":"A","approach":"N","ts":"2026-11-27T07:55:00Z",'
    b'"interval_s":60,"volume":100000000000000000000000}',  # beyond 64 bits
]
OFF_THE_ONE_CALL_PATH = [
    b'{"detector_id":"D9","intersection":"A","approach":"N","ts":"2026-11-27T07:55:00Z",'
    b'"interval_s":60,"volume":1,"extra":1e999}',  # unknown field orjson refuses
    b'{"detector_id":"D9","intersection":"A","approach":"N","ts":"2026-11-27T07:55:00Z",'
    b'"interval_s":60,"volume":1,"extra":"\xff"}',  # invalid UTF-8 in an unknown field
    b'{"detector_id":"\\ud800","intersection":"A","approach":"N",'
    b'"ts":"2026-11-27T07:55:00Z","interval_s":60,"volume":1}',  # a lone surrogate
    b'{"detector_id":"D9","intersection":"A","approach":"N","ts":"2026-11-27T07:55:00Z",'
    b'"interval_s":60,"volume":1}\n',  # a trailing newline
    b'{"detector_id":"D9","intersection":"A","approach":"N","ts":"2026-11-27T07:55:00Z",'
    b'"interval_s":60,"volume":1},{"detector_id":"D8"}',  # two values in one message
    b'{"detector_id":"D9","intersection":"A","approach":"N","ts":"2026-11-27T07:55:00Z",'
    b'"interval_s":60,"volume":1}\n{"detector_id":"D7","intersection":"A","approach":"N",'
    b'"ts":"2026-11-27T07:55:00Z","interval_s":60,"volume":1}',  # two lines in one message
    b"\n",
    b"",
    b"  ",
    b'\xef\xbb\xbf{"detector_id":"D9","intersection":"A","approach":"N",'
    b'"ts":"2026-11-27T07:55:00Z","interval_s":60,"volume":1}',  # a byte order mark
]
TEXT = st.sampled_from(["A01", "A01", "A01", " ", "\u3000\t", " x", "é" * 200, "é" * 201, ""])
CLEAN = st.builds(
    lambda i, place, volume, schema, spaced: orjson.dumps(
        {
            "detector_id": f"D{i}" if i < 40 else place,
            "intersection": place if i % 3 == 0 else "A01",
            "approach": "N",
            "ts": "2026-11-27T07:55:00+08:00",
            "interval_s": 60,
            "volume": volume,
            **schema,
        }
    ).replace(b",", b", " if spaced else b","),
    st.integers(0, 50),
    TEXT,
    st.one_of(st.none(), st.integers(-1, 100_001), st.floats(-1, 1e6)),
    st.sampled_from([{}, {}, {"schema": 1}, {"schema": 1.0}, {"schema": True}, {"schema": 2}]),
    st.booleans(),
)


ODD = st.sampled_from(ON_THE_ONE_CALL_PATH)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.lists(st.one_of(CLEAN, ODD), min_size=1),
        st.lists(st.one_of(CLEAN, ODD, st.sampled_from(OFF_THE_ONE_CALL_PATH)), min_size=1),
    )
)
def test_the_one_call_path_matches_the_codec(values):
    _check(values)


def test_the_one_call_path_cannot_be_fooled_by_where_messages_are_joined():
    """Two messages that are not JSON alone make two valid lines once joined; each must still
    be judged on its own."""
    one = _reading(detector_id="D1")
    values = [one + b"\n" + one, b"\n", one]
    cols, rejected = TrafficColumnDecoder(LIMITS)(values, NOW)
    assert cols.index.tolist() == [2]
    assert [i for i, _ in rejected] == [0, 1]


def test_a_clean_batch_is_parsed_in_one_call():
    decoder = TrafficColumnDecoder(LIMITS)
    values = [_reading(detector_id=f"D{i}", volume=None if i % 3 else i) for i in range(50)]
    assert decoder._wire(values) is not None
    assert decoder._wire([*values, _reading(lane=2)]) is None  # a field outside the schema
    _check(values, decoder)


def test_a_full_timestamp_cache_starts_afresh_and_stays_right(monkeypatch):
    monkeypatch.setattr(traffic_columns, "_CACHE_MAX", 3)
    decoder = TrafficColumnDecoder(LIMITS)
    for first in range(0, 40, 4):  # 5 distinct times a batch, one shared with the batch before
        minutes = range(first, first + 5)
        _check([_reading(ts=(NOW - timedelta(minutes=m)).isoformat()) for m in minutes], decoder)
        assert len(decoder._times.number) <= 5
