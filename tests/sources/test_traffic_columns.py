"""The column decoder must accept exactly what the codec accepts, with the codec's reasons."""

from __future__ import annotations

from datetime import timedelta, timezone

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from kendali.codec import Rejected, decode_traffic
from sources.traffic_columns import TrafficColumnDecoder
from tests.sources.test_kafka_decode import LIMITS, NOW, RAW, READING


def _check(values, decoder=None):
    decoder = decoder or TrafficColumnDecoder(LIMITS)
    cols, rejected = decoder(values, NOW, partition=2)
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
