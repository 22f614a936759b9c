"""Gauge telemetry from an existing system, as CSV or JSON, from a file or an HTTP(S) pull.

Two CSV shapes are understood. *Wide*: a time column (``timestamp``, ``ts``, ``time``, ``date``
or ``Tanggal``) then one column per station; ``Name (air)`` / ``Name (level)`` columns are river
levels in cm, ``Name (hujan)`` / ``Name (rain)`` rain in mm, a bare ``Name`` a level, and columns
holding text (weather classes such as ``Mendung``) are ignored and listed. *Long*: one reading per
row with ``station``, a time column and ``level_cm`` and/or ``rain_mm``. JSON is a list of such
objects, or ``{"readings": [...]}``. Timestamps without an offset are read in ``tz``.

Delivery: a file or a pull is read whole; rows that cannot be read are returned as
``rejected`` with their line and reason (the caller dead-letters them), never dropped silently.

>>> from datetime import timezone
>>> t = parse_telemetry(b"Tanggal,Depok (air),Depok (cuaca)\\n2022-10-09 20:00,200,Hujan\\n",
...                     "csv", timezone.utc)
>>> t.readings[0].station, t.readings[0].level_cm, t.ignored_columns
('Depok', 200.0, ('Depok (cuaca)',))
"""

from __future__ import annotations

import csv
import io
import re
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import pairwise
from pathlib import Path
from statistics import median
from zoneinfo import ZoneInfo

import orjson

from kendali.records import HydrometReading

__all__ = ["Telemetry", "TelemetryError", "parse_telemetry", "pull", "read_telemetry"]

TIME_COLUMNS = ("timestamp", "ts", "time", "datetime", "date", "tanggal", "waktu")
_SUFFIX = re.compile(r"^(?P<name>.+?)\s*\((?P<what>[^)]*)\)\s*$")
_LEVEL_WORDS = {"air", "level", "tma", "level_cm", "cm"}
_RAIN_WORDS = {"hujan", "rain", "rain_mm", "mm", "ch"}
MAX_PULL_BYTES = 50_000_000


class TelemetryError(ValueError):
    """The telemetry cannot be read at all (no time column, unknown format, unreachable)."""


@dataclass(frozen=True, slots=True)
class Telemetry:
    """What a file or pull produced: readings in time order, rows refused, columns ignored."""

    readings: tuple[HydrometReading, ...]
    rejected: tuple[str, ...] = ()
    ignored_columns: tuple[str, ...] = ()


def _ts(value: str, tz: ZoneInfo | timezone) -> datetime:
    ts = datetime.fromisoformat(value.strip())
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=tz)


def _num(value: str | float | None) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return float(value)


def _column_role(name: str) -> tuple[str, str]:
    """``(station, "level"|"rain"|"other")`` of a wide-CSV column name.

    >>> _column_role("Katulampa (air)"), _column_role("ARG-1 (hujan)"), _column_role("Depok")
    (('Katulampa', 'level'), ('ARG-1', 'rain'), ('Depok', 'level'))
    """
    m = _SUFFIX.match(name)
    if not m:
        return name.strip(), "level"
    what = m["what"].strip().lower()
    role = "level" if what in _LEVEL_WORDS else "rain" if what in _RAIN_WORDS else "other"
    return m["name"].strip(), role


def _time_column(header: list[str]) -> str:
    for name in header:
        if name.strip().lower() in TIME_COLUMNS:
            return name
    raise TelemetryError(f"no time column: expected one of {', '.join(TIME_COLUMNS)}")


def _interval(times: list[datetime]) -> int:
    steps = [(b - a).total_seconds() for a, b in pairwise(times) if b > a]
    return int(median(steps)) if steps else 3600


def _wide(rows: list[dict], header: list[str], tz) -> Telemetry:
    tcol = _time_column(header)
    columns = [c for c in header if c != tcol]
    numeric = {c for c in columns if _column_role(c)[1] != "other" and _is_numeric(rows, c)}
    ignored = tuple(c for c in columns if c not in numeric)
    out, rejected, times = [], [], []
    for n, row in enumerate(rows, start=2):
        try:
            ts = _ts(row[tcol], tz)
        except (ValueError, TypeError) as exc:
            rejected.append(f"line {n}: bad time {row.get(tcol)!r}: {exc}")
            continue
        times.append(ts)
        for c in numeric:
            station, role = _column_role(c)
            value = _num(row.get(c))
            if value is not None:
                kw = {"level_cm": value} if role == "level" else {"rain_mm": value}
                out.append((ts, station, role, kw))
    step = _interval(times)
    readings = [
        HydrometReading(station, "river" if role == "level" else "rain", ts, step, **kw)
        for ts, station, role, kw in sorted(out, key=lambda x: (x[0], x[1], x[2]))
    ]
    return Telemetry(tuple(readings), tuple(rejected), ignored)


def _is_numeric(rows: list[dict], column: str) -> bool:
    for row in rows[:200]:
        try:
            _num(row.get(column))
        except ValueError:
            return False
    return True


def _long(objects: Iterable[dict], tz, first_line: int = 2) -> Telemetry:
    out, rejected = [], []
    for n, obj in enumerate(objects, start=first_line):
        try:
            out.append(_reading(obj, tz))
        except (KeyError, ValueError, TypeError, TelemetryError) as exc:
            rejected.append(f"record {n}: {type(exc).__name__}: {exc}")
    out.sort(key=lambda r: (r.ts, r.station))
    return Telemetry(tuple(out), tuple(rejected))


def _reading(obj: dict, tz) -> HydrometReading:
    tkey = next((k for k in obj if k.strip().lower() in TIME_COLUMNS), None)
    if tkey is None:
        raise TelemetryError("no time field")
    level, rain = _num(obj.get("level_cm")), _num(obj.get("rain_mm"))
    if level is None and rain is None:
        raise TelemetryError("neither level_cm nor rain_mm")
    kind = obj.get("kind") or ("combined" if level is not None and rain is not None else None)
    kind = kind or ("river" if level is not None else "rain")
    ts = obj[tkey] if isinstance(obj[tkey], datetime) else _ts(str(obj[tkey]), tz)
    interval = int(_num(obj.get("interval_s")) or 3600)
    return HydrometReading(str(obj["station"]), kind, ts, interval, level, rain)


def parse_telemetry(data: bytes, fmt: str, tz: ZoneInfo | timezone) -> Telemetry:
    """Read CSV (wide or long, see the module) or JSON telemetry bytes into readings."""
    if fmt == "json":
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise TelemetryError(f"not JSON: {exc}") from None
        items = doc.get("readings") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise TelemetryError("JSON telemetry must be a list or {'readings': [...]}")
        return _long((i if isinstance(i, dict) else {} for i in items), tz, first_line=1)
    if fmt != "csv":
        raise TelemetryError(f"unknown telemetry format {fmt!r}: expected csv or json")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TelemetryError(f"CSV telemetry is not UTF-8: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h for h in (reader.fieldnames or []) if h is not None]
    rows = list(reader)
    if "station" in (h.strip().lower() for h in header):
        return _long(rows, tz)
    return _wide(rows, header, tz)


def _format_of(name: str, content_type: str = "") -> str:
    if name.lower().endswith(".json") or "json" in content_type:
        return "json"
    return "csv"


def read_telemetry(path: str | Path, tz: ZoneInfo | timezone) -> Telemetry:
    """Read a telemetry file; the format follows the extension (``.json``, else CSV)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TelemetryError(f"cannot read {path}: {exc.strerror}") from None
    return parse_telemetry(data, _format_of(path.name), tz)


def pull(url: str, tz: ZoneInfo | timezone, timeout_s: float = 30.0) -> Telemetry:
    """Fetch telemetry over HTTP(S) (or ``file:`` / a path) and parse it.

    The format follows the Content-Type (``json``) or the URL's extension; the body is capped
    at ``MAX_PULL_BYTES``. The pull is at-most-once: a failed fetch raises, nothing is kept.
    """
    if "://" not in url:
        return read_telemetry(url, tz)
    if not url.startswith(("http://", "https://", "file:")):
        raise TelemetryError(f"unsupported URL scheme in {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            data = resp.read(MAX_PULL_BYTES + 1)
            ctype = resp.headers.get("Content-Type", "") if resp.headers else ""
    except OSError as exc:
        raise TelemetryError(f"cannot fetch {url}: {exc}") from None
    if len(data) > MAX_PULL_BYTES:
        raise TelemetryError(f"{url}: body larger than {MAX_PULL_BYTES} bytes")
    return parse_telemetry(data, _format_of(url.split("?")[0], ctype), tz)
