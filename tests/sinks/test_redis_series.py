"""The sensor series sink against a real Redis: entry formats, newest point per sensor,
buffering and write-through, freshness counts, the stream cap; and the float formatting."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from kendali.store import Keys
from sinks.redis_series import RedisSeriesSink, SensorPoint, SeriesColumns, format_cells
from tests.support import wait_until

integration = pytest.mark.integration

T0 = 1795821056.25  # an event time (epoch seconds)
NAN = math.nan


class Clock:
    """Wall time the test sets."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def env(isolated_settings):
    """A factory of sink partitions on the test's prefix, a plain client and the key names."""
    s = isolated_settings
    parts = []

    def open_sink(min_gap_s: float, clock: Clock | None = None, maxlen: int = 300):
        sink = RedisSeriesSink(s.redis.url, s.redis.prefix, maxlen, min_gap_s, clock or Clock())
        parts.append(sink.build("series", 0, 1))
        return parts[-1]

    client = redis.Redis.from_url(s.redis.url, decode_responses=True)
    yield open_sink, client, Keys(s.redis.prefix)
    for part in parts:
        part.close()
    client.close()


def columns(source: str, rows: list[tuple], **values: list[float]) -> SeriesColumns:
    """``rows`` are (sensor, ts); ``values`` name one list per value, NaN = missing."""
    sensors = [sensor for sensor, _ in rows]
    ts = np.array([t for _, t in rows], dtype=np.float64)
    return SeriesColumns(
        source, sensors, ts, {k: np.array(v, np.float64) for k, v in values.items()}
    )


def entries(client: redis.Redis, keys: Keys, sensor: str) -> list[dict[str, str]]:
    """The sensor's stream entries, oldest first, read as the API reads them (XREVRANGE)."""
    return [fields for _id, fields in reversed(client.xrevrange(keys.series(sensor)))]


def freshness(client: redis.Redis, keys: Keys) -> dict[str, dict]:
    return {k: orjson.loads(v) for k, v in client.hgetall(keys.freshness).items()}


@integration
def test_columns_and_points_mix_and_missing_values_are_omitted(env):
    open_sink, client, keys = env
    part = open_sink(min_gap_s=0)
    atcs = columns(
        "atcs",
        [("atcs:A", T0), ("atcs:B", T0 + 1)],
        volume=[12.0, 3.0],
        occupancy=[7.5, NAN],
        speed=[NAN, NAN],
    )
    gauge = SensorPoint("hydromet", "gauge:G", T0, {"level_cm": 120.5, "rain_mm": None})
    part.write_batch([atcs, [gauge], SensorPoint("reports", "reports", T0, {})])
    assert entries(client, keys, "atcs:A") == [
        {"ts": repr(T0), "volume": "12.0", "occupancy": "7.5"}
    ]
    assert list(entries(client, keys, "atcs:A")[0]) == ["ts", "volume", "occupancy"]
    assert entries(client, keys, "atcs:B") == [{"ts": repr(T0 + 1), "volume": "3.0"}]
    assert entries(client, keys, "gauge:G") == [{"ts": repr(T0), "level_cm": "120.5"}]
    assert entries(client, keys, "reports") == [{"ts": repr(T0)}]


@integration
def test_fields_are_the_strings_redis_py_writes(env):
    open_sink, client, keys = env
    part = open_sink(min_gap_s=0)
    floats = [0.1 + 0.2, 1e-05, 2.5e-07, 1e16, 123.0, 5e-324, -0.0, T0, 1e300, math.inf]
    rows = [(f"atcs:F{i}", T0 + i / 3) for i in range(len(floats))]
    part.write_batch([columns("atcs", rows, speed=floats)])
    points = [SensorPoint("hydromet", "gauge:P", 1795821100, {"level_cm": 7, "rain_mm": 0.3})]
    part.write_batch(points)
    control = keys.series("control")
    for (sensor, ts), x in zip(rows, floats, strict=True):
        client.xadd(control, {"ts": ts, "speed": x})
        assert entries(client, keys, sensor) == [client.xrevrange(control, count=1)[0][1]]
    client.xadd(control, {"ts": 1795821100, **points[0].values})
    assert entries(client, keys, "gauge:P") == [client.xrevrange(control, count=1)[0][1]]


@integration
def test_the_newest_point_per_sensor_wins_whatever_the_arrival_order(env):
    open_sink, client, keys = env
    part = open_sink(min_gap_s=3600)
    # The first batch is written at once; within it the newest row of A wins.
    part.write_batch([columns("atcs", [("atcs:A", T0 + 5), ("atcs:A", T0 + 9), ("atcs:A", T0 + 7)],
                              volume=[5, 9, 7])])  # fmt: skip
    # Buffered from here on: A's older point is dropped (A@9 is written), B's equal ts: the later.
    part.write_batch([columns("atcs", [("atcs:A", T0 + 8), ("atcs:B", T0 + 3)], volume=[8, 3])])
    part.write_batch([SensorPoint("atcs", "atcs:B", T0 + 2, {"volume": 2})])
    part.write_batch([columns("atcs", [("atcs:B", T0 + 3)], volume=[33])])
    part.write_batch([SensorPoint("atcs", "atcs:A", T0 + 12, {"volume": 12})])
    part.write_batch([columns("atcs", [("atcs:A", T0 + 11)], volume=[11])])
    part.close()
    assert [e["volume"] for e in entries(client, keys, "atcs:A")] == ["9.0", "12"]
    assert [e["ts"] for e in entries(client, keys, "atcs:A")] == [repr(T0 + 9), repr(T0 + 12)]
    assert entries(client, keys, "atcs:B") == [{"ts": repr(T0 + 3), "volume": "33.0"}]


@integration
def test_write_through_writes_every_batch_before_returning(env):
    open_sink, client, keys = env
    part = open_sink(min_gap_s=0)
    for i in range(5):
        part.write_batch([columns("atcs", [("atcs:A", T0 + i)], speed=[40.0 + i])])
        assert len(entries(client, keys, "atcs:A")) == i + 1, "readable once write_batch returns"
    assert [e["speed"] for e in entries(client, keys, "atcs:A")] == [
        "40.0", "41.0", "42.0", "43.0", "44.0"
    ]  # fmt: skip


@integration
def test_buffered_points_wait_for_the_gap_or_close(env):
    open_sink, client, keys = env
    clock = Clock(1000.0)
    part = open_sink(min_gap_s=10, clock=clock)
    part.write_batch([columns("atcs", [("atcs:A", T0)], speed=[40.0])])  # first: at once
    clock.now = 1005.0
    part.write_batch([columns("atcs", [("atcs:A", T0 + 1)], speed=[41.0])])
    part.write_batch([columns("atcs", [("atcs:A", T0 + 2)], speed=[42.0])])
    wait_until(lambda: client.hexists(keys.freshness, "atcs"), 5, "the first write")
    assert len(entries(client, keys, "atcs:A")) == 1, "later points wait for the gap"
    clock.now = 1010.0
    part.write_batch([])  # any call checks the gap: the newest buffered point goes out
    clock.now = 1011.0
    part.write_batch([columns("atcs", [("atcs:A", T0 + 3)], speed=[43.0])])
    wait_until(lambda: len(entries(client, keys, "atcs:A")) == 2, 5, "the second write")
    part.close()
    assert [e["speed"] for e in entries(client, keys, "atcs:A")] == ["40.0", "42.0", "43.0"]


@integration
def test_freshness_counts_every_point_received(env):
    open_sink, client, keys = env
    clock = Clock(1000.0)
    part = open_sink(min_gap_s=10, clock=clock)
    rows = [("atcs:A", T0), ("atcs:B", T0 + 1), ("atcs:A", T0 + 3), ("atcs:C", T0 + 2)]
    part.write_batch([columns("atcs", rows, speed=[1, 2, 3, 4])])
    wait_until(lambda: client.hexists(keys.freshness, "atcs"), 5, "the first write")
    assert (
        client.hget(keys.freshness, "atcs")
        == orjson.dumps({"last_event": T0 + 3, "last_batch": 4, "last_write": 1000.0}).decode()
    )
    clock.now = 1004.0
    older = columns("atcs", [("atcs:A", T0 - 60), ("atcs:B", T0 + 20)], speed=[0, 5])
    part.write_batch([older, columns("atcs", [])])
    part.write_batch(
        [SensorPoint("atcs", "atcs:D", T0 + 5, {}), SensorPoint("atcs", "atcs:D", T0 + 4, {})]
    )
    part.write_batch([SensorPoint("hydromet", "gauge:G", T0 - 600, {"level_cm": 1.0})])
    part.close()
    assert freshness(client, keys) == {
        "atcs": {"last_event": T0 + 20, "last_batch": 4, "last_write": 1004.0},
        "hydromet": {"last_event": T0 - 600, "last_batch": 1, "last_write": 1004.0},
    }
    assert len(entries(client, keys, "atcs:A")) == 1, "the older point counted, not written"


@integration
def test_streams_are_capped_like_xadd_maxlen_approximate(env):
    open_sink, client, keys = env
    part = open_sink(min_gap_s=0, maxlen=10)
    for i in range(250):
        part.write_batch([columns("atcs", [("atcs:A", T0 + i)], speed=[float(i)])])
        client.xadd(keys.series("control"), {"ts": T0 + i, "speed": float(i)}, maxlen=10)
    length = client.xlen(keys.series("atcs:A"))
    assert 10 <= length < 250
    assert length == client.xlen(keys.series("control"))
    assert entries(client, keys, "atcs:A")[-1]["speed"] == "249.0"


@integration
def test_a_flushed_script_cache_is_reloaded(env):
    open_sink, client, keys = env
    part = open_sink(min_gap_s=0)
    part.write_batch([SensorPoint("atcs", "atcs:A", T0, {"speed": 1.0})])
    client.script_flush()
    part.write_batch([SensorPoint("atcs", "atcs:A", T0 + 1, {"speed": 2.0})])
    assert [e["speed"] for e in entries(client, keys, "atcs:A")] == ["1.0", "2.0"]


@integration
def test_other_items_are_refused_naming_what_arrived(env):
    open_sink, _client, _keys = env
    part = open_sink(min_gap_s=0)
    with pytest.raises(TypeError, match=r"expected SensorPoint.*got dict"):
        part.write_batch([{"sensor": "atcs:A"}])


ENCODER = redis.Redis().get_encoder()  # how redis-py turns a float into a command argument


@pytest.mark.parametrize(
    ("cell", "text"),
    [
        (12.0, "12.0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-4, "0.0001"),
        (9.99e-05, "9.99e-05"),
        (1e-05, "1e-05"),
        (1e16, "1e+16"),
        (9999999999999998.0, "9999999999999998.0"),
        (-0.0, "-0.0"),
        (5e-324, "5e-324"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (NAN, None),
    ],
)
def test_cells_are_formatted_like_repr(cell, text):
    assert orjson.loads(format_cells(np.array([cell]))) == [text]


@given(st.lists(st.floats(), max_size=30), st.integers(1, 3))
def test_format_cells_equals_what_redis_py_writes(xs, width):
    xs = xs[: len(xs) // width * width]
    cells = np.array(xs, dtype=np.float64).reshape(-1, width)
    expected = [None if math.isnan(x) else ENCODER.encode(x).decode() for x in xs]
    assert orjson.loads(format_cells(cells)) == expected
