"""TrafficColumns survive pickling (across Bytewax processes, into snapshots) exactly."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kendali.columns import TrafficColumns
from kendali.records import TrafficReading

TEXT = st.text(min_size=1, max_size=8)  # any character, the pickling separator included
MEASURE = st.none() | st.floats(0, 1000, allow_nan=False)
READING = st.builds(
    TrafficReading,
    TEXT,
    TEXT,
    TEXT,
    st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.builds(timezone, st.timedeltas(-timedelta(hours=23), timedelta(hours=23))),
    ),
    st.integers(1, 86_400),
    MEASURE,
    MEASURE,
    MEASURE,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(READING, max_size=30), st.none() | st.integers(0, 63))
def test_a_pickled_batch_comes_back_equal_row_for_row(readings, partition):
    cols = TrafficColumns.from_readings(readings, partition)
    back = pickle.loads(pickle.dumps(cols, protocol=pickle.HIGHEST_PROTOCOL))
    assert len(back) == len(cols) and back.partition == partition
    for name in ("ids", "t", "offset", "interval", "values", "index"):
        a, b = getattr(cols, name), getattr(back, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert np.array_equal(a, b, equal_nan=a.dtype != object), name
        assert b.flags.writeable and b.flags.c_contiguous, name
    for row, reading in enumerate(readings):
        got = back.reading(row, reading.intersection, reading.approach)
        assert got == reading and got.ts.isoformat() == reading.ts.isoformat()


def test_text_with_the_separator_round_trips():
    t = datetime(2026, 11, 27, tzinfo=UTC)
    rs = [TrafficReading(d, "A", "N", t, 60, 1.0, 2.0, 3.0) for d in ("D\x1f1", "D2")]
    back = pickle.loads(pickle.dumps(TrafficColumns.from_readings(rs)))
    assert back.ids.tolist() == ["D\x1f1", "D2"]
