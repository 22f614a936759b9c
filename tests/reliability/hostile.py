"""Hostile input for the reliability tests: valid records, and ways to break them.

Strategies (hypothesis) for property tests, and a seeded generator of malformed Kafka message
values for the fuzz run through the dataflow. JSON is assembled by hand so that tokens no
encoder would write (``NaN``, ``1e999``, 30-digit integers, duplicate keys, lone surrogates)
reach the decoders exactly as an attacker could send them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import strategies as st

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)

FIELDS = {
    "traffic": (
        "detector_id",
        "intersection",
        "approach",
        "ts",
        "interval_s",
        "volume",
        "occupancy",
        "speed",
    ),
    "hydromet": ("station", "kind", "ts", "interval_s", "level_cm", "rain_mm"),
    "complaints": ("id", "channel", "ts", "text", "category", "lat", "lon", "place", "reporter"),
}


@dataclass(frozen=True, slots=True)
class Raw:
    """A JSON token written as is."""

    token: bytes


RAW_TOKENS = (
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e999",
    b"-1e999",
    b"123456789012345678901234567890",
    b"-0",
    b"1E-400",
    b'"\\ud800"',
    b'"\\u0000"',
    b"tru",
    b"[",
)
HOSTILE_TS = (
    "1970-01-01T00:00:00+00:00",
    "2100-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+14:00",
    "2026-11-27T08:00:00",
    "2026-02-30T00:00:00+08:00",
    "2026-11-27T08:00:00+25:00",
    "now",
    "",
)
UNICODE = (
    "\u202eDEKAT",  # right-to-left override
    "\ufeffD1",  # byte-order mark
    "Ｄ１",  # full-width look-alike
    "e\u0301",  # combining accent
    "\u2028\u2029",  # JSON-legal line separators
    "𝔇𝔢𝔱",  # astral plane
    "<script>alert(1)</script>",
    "'; DROP TABLE incidents; --",
    "x" * 5_000,
)


def to_json(obj) -> bytes:
    """JSON bytes for a dict, a list of key/value pairs (duplicate keys allowed) or a value;
    :class:`Raw` values are written verbatim.

    >>> to_json([("a", 1), ("a", Raw(b"NaN"))])
    b'{"a":1,"a":NaN}'
    """
    if isinstance(obj, Raw):
        return obj.token
    if isinstance(obj, int) and not isinstance(obj, bool):
        return str(obj).encode()
    if isinstance(obj, dict):
        obj = list(obj.items())
    if isinstance(obj, list) and all(isinstance(p, tuple) and len(p) == 2 for p in obj):
        body = b",".join(orjson.dumps(str(k)) + b":" + to_json(v) for k, v in obj)
        return b"{" + body + b"}"
    return orjson.dumps(obj)


def hostile_values() -> st.SearchStrategy:
    """Any JSON value a producer could send, biased toward the nasty ones."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
        st.sampled_from(HOSTILE_TS + UNICODE),
        st.lists(st.integers(0, 9), max_size=3),
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
        st.sampled_from(RAW_TOKENS).map(Raw),
    )


def json_objects(fields: tuple[str, ...]) -> st.SearchStrategy:
    """JSON objects (as bytes) over ``fields`` plus stray keys, with hostile values."""
    keys = st.sampled_from(fields) | st.text(max_size=8)
    pairs = st.lists(st.tuples(keys, hostile_values()), max_size=len(fields) + 2)
    return pairs.map(to_json)


def _iso(ts: datetime) -> str:
    return ts.isoformat()


def valid_traffic(detectors=("D1", "D2"), now: datetime = NOW) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {
            "schema": st.just(1),
            "detector_id": st.sampled_from(detectors),
            "intersection": st.sampled_from(["A01", "Simpang Plaza"]),
            "approach": st.sampled_from("NSEW"),
            "ts": st.integers(0, 86_400 * 10).map(lambda s: _iso(now - timedelta(seconds=s))),
            "interval_s": st.sampled_from([60, 300]),
            "volume": st.integers(0, 500),
            "occupancy": st.floats(0, 100),
            "speed": st.floats(0, 120) | st.none(),
        }
    )


def valid_hydromet(stations=("G1",), now: datetime = NOW) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {
            "station": st.sampled_from(stations),
            "kind": st.just("combined"),
            "ts": st.integers(0, 86_400 * 10).map(lambda s: _iso(now - timedelta(seconds=s))),
            "interval_s": st.just(600),
            "level_cm": st.floats(-100, 900),
            "rain_mm": st.floats(0, 200),
        }
    )


def valid_complaint(now: datetime = NOW) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {
            "id": st.uuids().map(str),
            "channel": st.sampled_from(["112", "app", "open311"]),
            "ts": st.integers(0, 86_400 * 10).map(lambda s: _iso(now - timedelta(seconds=s))),
            "text": st.text(max_size=100),
            "lat": st.floats(-1.28, -1.05),
            "lon": st.floats(116.8, 117.0),
            "reporter": st.just("rp_0123456789abcdef") | st.none(),
        }
    )


def mangle(valid: dict, fields: tuple[str, ...]) -> st.SearchStrategy:
    """Break a valid record one way or another; the result is the message bytes."""
    field = st.sampled_from(fields)
    good = to_json(valid)
    return st.one_of(
        field.map(lambda f: to_json({k: v for k, v in valid.items() if k != f})),
        st.tuples(field, hostile_values()).map(lambda fv: to_json({**valid, fv[0]: fv[1]})),
        st.tuples(field, hostile_values()).map(lambda fv: to_json([*valid.items(), fv])),
        st.integers(0, len(good) - 1).map(lambda n: good[:n]),
        hostile_values().map(to_json),
        st.sampled_from([{**valid, "schema": 2}, {**valid, "schema": "1"}]).map(to_json),
    )


#: Tokens that no field of any record accepts (the others can be a valid number or string).
ALWAYS_BAD_TOKENS = tuple(t for t in RAW_TOKENS if t not in (b"-0", b"1E-400", b'"\\u0000"'))


def malformed_values(
    n: int,
    seed: int,
    valid: bytes,
    strict: tuple[str, ...],
    big: int = 5 * 1024 * 1024,
    times: tuple[str, ...] = HOSTILE_TS,
) -> list[bytes]:
    """``n`` malformed message values, seeded, cycling through every kind of damage the issue
    lists (random bytes, truncated JSON, wrong types, huge numbers, NaN/inf, unicode tricks in
    the ``strict`` fields (timestamps, numbers), timestamps in 1970 and 2100, duplicate keys, a
    few payloads of ``big`` bytes); none of them is a valid record. ``times`` are the bad
    timestamps (a decoder without a time window accepts 1970).

    >>> ok = b'{"ts": "2026-11-27T08:00:00+00:00", "v": 1}'
    >>> vals = malformed_values(14, 1, ok, ("ts", "v"), big=100)
    >>> len(vals), max(len(v) for v in vals) >= 100
    (14, True)
    """
    rng = random.Random(seed)
    obj = orjson.loads(valid)
    keys = list(obj)
    makers = [
        lambda: rng.randbytes(rng.randint(0, 200)),
        lambda: valid[: rng.randint(0, len(valid) - 1)],
        lambda: to_json({**obj, rng.choice(keys): rng.choice([[], {}, True])}),
        lambda: to_json({**obj, rng.choice(keys): Raw(rng.choice(ALWAYS_BAD_TOKENS))}),
        lambda: to_json({**obj, rng.choice(strict): rng.choice(UNICODE)}),
        lambda: to_json({**obj, "ts": rng.choice(times)}),
        lambda: to_json([*obj.items(), ("ts", rng.choice(times))]),
        lambda: to_json(rng.choice([[obj], "text", 42, None])),
        lambda: to_json({**obj, "schema": rng.choice([0, 2, "1", 1.5])}),
        lambda: b"\xff\xfe" + valid,
    ]
    out = [makers[i % len(makers)]() for i in range(n)]
    for i in range(min(3, n)):
        out[(i * 997) % n] = b'{"pad": "' + b"A" * big + b'"}'
    return out
