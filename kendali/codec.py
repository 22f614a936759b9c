"""Wire format of Kendali's records: JSON objects (orjson) with a schema version.

Decoding never raises on bad input: :func:`decode` returns either a record or a
:class:`Rejected` with a reason an operator can read, so the dataflow can dead-letter it.

>>> rec = decode_traffic(b'{"detector_id": "D1", "intersection": "A01", "approach": "N",'
...     b' "ts": "2026-11-27T08:05:00+08:00", "interval_s": 300, "volume": 12,'
...     b' "occupancy": 7.5, "speed": 41}', now=None)
>>> rec.volume, rec.ts.isoformat()
(12.0, '2026-11-27T08:05:00+08:00')
>>> decode_traffic(b'{"detector_id": "D1"}', now=None).reason
'missing field(s): intersection, approach, ts, interval_s'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from kendali.records import Complaint, HydrometReading, Incident, Signal, TrafficReading

__all__ = [
    "Limits",
    "Rejected",
    "decode_complaint",
    "decode_hydromet",
    "decode_traffic",
    "encode",
    "incident_from_dict",
    "parse_ts",
    "to_dict",
]


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a message was refused; the dataflow sends it to the dead-letter topic."""

    reason: str


@dataclass(frozen=True, slots=True)
class Limits:
    """Validation limits; settings may change them per deployment."""

    max_bytes: int = 65_536
    max_future: timedelta = timedelta(hours=1)
    max_past: timedelta = timedelta(days=365 * 30)


DEFAULT_LIMITS = Limits()


class _Invalid(Exception):
    pass


def parse_ts(value: Any) -> datetime:
    """Parse an ISO 8601 timestamp that carries its UTC offset; naive times are refused.

    >>> parse_ts("2026-11-27T08:05:00+08:00").tzname()
    'UTC+08:00'
    >>> parse_ts("2026-11-27T08:05:00")
    Traceback (most recent call last):
    ...
    ValueError: timestamp '2026-11-27T08:05:00' has no UTC offset
    """
    if not isinstance(value, str):
        raise ValueError(f"timestamp must be an ISO 8601 string, got {type(value).__name__}")
    ts = datetime.fromisoformat(value)
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return ts


def _number(obj: dict, name: str, *, lo: float, hi: float, optional: bool) -> float | None:
    value = obj.get(name)
    if value is None:
        if optional:
            return None
        raise _Invalid(f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise _Invalid(f"{name} must be finite, got {value}")
    if not lo <= value <= hi:
        raise _Invalid(f"{name}={value:g} outside [{lo:g}, {hi:g}]")
    return value


def _text(obj: dict, name: str, *, optional: bool = False, max_len: int = 200) -> str | None:
    value = obj.get(name)
    if value is None:
        if optional:
            return None
        raise _Invalid(f"{name} is required")
    if not isinstance(value, str):
        raise _Invalid(f"{name} must be a string, got {type(value).__name__}")
    if not optional and not value.strip():
        raise _Invalid(f"{name} must not be empty")
    if len(value) > max_len:
        raise _Invalid(f"{name} longer than {max_len} characters")
    return value


def _ts(obj: dict, limits: Limits, now: datetime | None) -> datetime:
    try:
        ts = parse_ts(obj.get("ts"))
    except ValueError as exc:
        raise _Invalid(f"ts: {exc}") from None
    if now is not None:
        if ts > now + limits.max_future:
            raise _Invalid(f"ts {ts.isoformat()} is more than {limits.max_future} in the future")
        if ts < now - limits.max_past:
            raise _Invalid(f"ts {ts.isoformat()} is older than {limits.max_past.days} days")
    return ts


def _load(raw: bytes | None, required: tuple[str, ...], limits: Limits) -> dict:
    if raw is None:
        raise _Invalid("empty message (no value)")
    if len(raw) > limits.max_bytes:
        raise _Invalid(f"message of {len(raw)} bytes exceeds the limit of {limits.max_bytes}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _Invalid(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise _Invalid(f"expected a JSON object, got {type(obj).__name__}")
    missing = [name for name in required if name not in obj]
    if missing:
        raise _Invalid(f"missing field(s): {', '.join(missing)}")
    schema = obj.get("schema", 1)
    if schema != 1:
        raise _Invalid(f"unsupported schema version {schema!r} (this build reads 1)")
    return obj


def _decoder(
    required: tuple[str, ...], build: Callable[[dict, Limits, datetime | None], Any]
) -> Callable[..., Any]:
    def decode(raw: bytes | None, *, now: datetime | None, limits: Limits = DEFAULT_LIMITS):
        try:
            return build(_load(raw, required, limits), limits, now)
        except _Invalid as exc:
            return Rejected(str(exc))

    return decode


def _traffic(obj: dict, limits: Limits, now: datetime | None) -> TrafficReading:
    interval = _number(obj, "interval_s", lo=1, hi=86_400, optional=False)
    reading = TrafficReading(
        detector_id=_text(obj, "detector_id"),
        intersection=_text(obj, "intersection"),
        approach=_text(obj, "approach"),
        ts=_ts(obj, limits, now),
        interval_s=int(interval),
        volume=_number(obj, "volume", lo=0, hi=100_000, optional=True),
        occupancy=_number(obj, "occupancy", lo=0, hi=100, optional=True),
        speed=_number(obj, "speed", lo=0, hi=300, optional=True),
    )
    if reading.volume is None and reading.occupancy is None and reading.speed is None:
        raise _Invalid("reading has none of volume, occupancy, speed")
    return reading


def _hydromet(obj: dict, limits: Limits, now: datetime | None) -> HydrometReading:
    kind = _text(obj, "kind")
    if kind not in ("river", "rain", "combined"):
        raise _Invalid(f"kind must be river, rain or combined, got {kind!r}")
    reading = HydrometReading(
        station=_text(obj, "station"),
        kind=kind,
        ts=_ts(obj, limits, now),
        interval_s=int(_number(obj, "interval_s", lo=1, hi=86_400, optional=False)),
        level_cm=_number(obj, "level_cm", lo=-1_000, hi=10_000, optional=True),
        rain_mm=_number(obj, "rain_mm", lo=0, hi=1_000, optional=True),
    )
    if reading.level_cm is None and reading.rain_mm is None:
        raise _Invalid("reading has neither level_cm nor rain_mm")
    return reading


def _complaint(obj: dict, limits: Limits, now: datetime | None) -> Complaint:
    lat = _number(obj, "lat", lo=-90, hi=90, optional=True)
    lon = _number(obj, "lon", lo=-180, hi=180, optional=True)
    if (lat is None) != (lon is None):
        raise _Invalid("lat and lon must be given together")
    place = _text(obj, "place", optional=True)
    if lat is None and not place:
        raise _Invalid("report has neither lat/lon nor a place name")
    return Complaint(
        id=_text(obj, "id", max_len=100),
        channel=_text(obj, "channel", max_len=40),
        ts=_ts(obj, limits, now),
        text=_text(obj, "text", optional=True, max_len=4_000) or "",
        category=_text(obj, "category", optional=True, max_len=60),
        lat=lat,
        lon=lon,
        place=place,
        reporter=_text(obj, "reporter", optional=True, max_len=128),
    )


decode_traffic = _decoder(("detector_id", "intersection", "approach", "ts", "interval_s"), _traffic)
decode_hydromet = _decoder(("station", "kind", "ts", "interval_s"), _hydromet)
decode_complaint = _decoder(("id", "channel", "ts"), _complaint)


def _default(value: Any) -> Any:
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def to_dict(record: Any) -> dict:
    """A record as a JSON-ready dict with its schema version (timestamps stay datetimes)."""
    out = {"schema": type(record).SCHEMA}
    for f in dataclasses.fields(record):
        out[f.name] = getattr(record, f.name)
    return out


def encode(record: Any) -> bytes:
    """Serialise a record to JSON bytes; datetimes keep their offset.

    >>> from datetime import datetime, timezone
    >>> encode(HydrometReading("S1", "rain", datetime(2026, 1, 1, tzinfo=timezone.utc), 600,
    ...        rain_mm=2.5))[:60]
    b'{"schema":1,"station":"S1","kind":"rain","ts":"2026-01-01T00'
    """
    return orjson.dumps(to_dict(record), default=_default)


def incident_from_dict(obj: dict) -> Incident:
    """Rebuild an :class:`Incident` from its JSON form (as stored in Redis)."""
    values = {f.name: obj.get(f.name) for f in dataclasses.fields(Incident)}
    for name in ("first_seen", "last_seen"):
        values[name] = parse_ts(values[name])
    for name in ("agencies", "evidence", "sources"):
        values[name] = tuple(values[name] or ())
    if values["area"] is not None:
        values["area"] = tuple(tuple(p) for p in values["area"])
    return Incident(**values)


def signal_from_dict(obj: dict) -> Signal:
    """Rebuild a :class:`Signal` from its JSON form."""
    values = {f.name: obj.get(f.name) for f in dataclasses.fields(Signal)}
    values["ts"] = parse_ts(values["ts"])
    values["evidence"] = tuple(values["evidence"] or ())
    values["agencies"] = tuple(values["agencies"] or ())
    values["details"] = values["details"] or {}
    if values["area"] is not None:
        values["area"] = tuple(tuple(p) for p in values["area"])
    return Signal(**values)
