"""Decode a batch of raw ATCS messages straight into :class:`~kendali.columns.TrafficColumns`.

The checks of :func:`kendali.codec.decode_traffic` are applied per *column*, not per message.
A batch whose messages all keep to the schema (:class:`_Wire`: its fields only, their JSON
types, texts of 1-200 characters) is parsed and type-checked in one msgspec call over the
messages joined by newlines; any other batch is parsed with one ``orjson.loads`` per message.
Then each field is pulled out as a list, numbers are range-checked as numpy arrays, and
timestamps are parsed once per distinct value (a batch from thousands of detectors holds a
handful of distinct times). Detector ids are looked up once in the city's numbering
(``known``), which stands for checking known ids as texts. Any row a column check does not
accept outright goes through ``decode_traffic`` itself, so what is accepted and every
rejection reason are exactly the codec's.

>>> from datetime import UTC, datetime
>>> from kendali.codec import Limits
>>> dec = TrafficColumnDecoder(Limits())
>>> ok = (b'{"detector_id": "D1", "intersection": "A", "approach": "N",'
...       b' "ts": "2026-11-27T08:05:00+08:00", "interval_s": 300, "occupancy": 12.5}')
>>> cols, rejected = dec([ok, b'{"detector_id": "D2"}', None], datetime(2026, 11, 27, tzinfo=UTC))
>>> cols.ids.tolist(), cols.values.tolist(), cols.index.tolist()
(['D1'], [[nan, 12.5, nan]], [0])
>>> rejected
[(1, 'missing field(s): intersection, approach, ts, interval_s'), (2, 'empty message (no value)')]
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
import orjson

from kendali.codec import Limits, Rejected, decode_traffic
from kendali.columns import TrafficColumns, codes, object_array, offset_us

__all__ = ["TrafficColumnDecoder"]

_CHECKED = ("intersection", "approach")
_NUMBERS = (("volume", 100_000.0), ("occupancy", 100.0), ("speed", 300.0))
_NUMBER_TYPES = {int, float, type(None)}
#: Caches of valid names and parsed timestamps are dropped beyond this many entries.
_CACHE_MAX = 200_000


#: A text field as the codec takes it, but for blankness (:func:`_blank`).
_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class _Wire(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """An ATCS message as the one-call fast path takes it: only these fields, these JSON types.

    Anything else (an unknown field, whose value msgspec would skip without the checks orjson
    makes; a number sent as text; schema 1.0) sends the batch down the per-message path.
    """

    detector_id: _Text
    intersection: _Text
    approach: _Text
    ts: str
    interval_s: int | float
    volume: int | float | None = None
    occupancy: int | float | None = None
    speed: int | float | None = None
    schema: Literal[1] = 1


_WIRE = msgspec.json.Decoder(_Wire)


def _field(objs: list[dict], name: str) -> list[Any]:
    """``name`` of every object, ``None`` where it is missing (``itemgetter`` in C first)."""
    try:
        return list(map(itemgetter(name), objs))
    except KeyError:
        return [o.get(name) for o in objs]


def _attributes(rows: list[Any]) -> Callable[[str], list[Any]]:
    """A field getter over parsed :class:`_Wire` rows."""
    return lambda name: list(map(attrgetter(name), rows))


def _loads(raw: bytes | None) -> Any:
    try:
        return orjson.loads(raw)  # type: ignore[arg-type]
    except (orjson.JSONDecodeError, TypeError):
        return None


def _blank(column: list[str]) -> np.ndarray:
    """Rows whose text is all whitespace (``str.isspace`` is the codec's ``not strip()`` for a
    non-empty text), for texts :class:`_Wire` has already checked for type and length."""
    if not any(map(str.isspace, column)):
        return np.zeros(len(column), bool)
    return np.fromiter(map(str.isspace, column), bool, len(column))


def _valid_text(value: Any) -> bool:
    return type(value) is str and len(value) <= 200 and bool(value.strip())


class TrafficColumnDecoder:
    """Callable: (message values, now) -> (columns of the valid ones, [(position, reason)]).

    ``known`` numbers the city's detectors (``TrafficColumns.code``, -1 for others): the one
    dictionary lookup a reading's detector id needs on the whole path, which also stands for
    checking the id as a text. Keeps two bounded caches across batches: names known to be
    valid texts, and timestamps already parsed.
    """

    def __init__(self, limits: Limits, known: Mapping[str, int] | None = None):
        self.limits = limits
        self._known = {k: v for k, v in (known or {}).items() if _valid_text(k)}
        self._texts: set[str] = set()
        self._times = _Times()

    def __call__(
        self, values: list[bytes | None], now: datetime, partition: int | None = None
    ) -> tuple[TrafficColumns, list[tuple[int, str]]]:
        n = len(values)
        rows = self._wire(values)
        typed = rows is not None
        if typed:  # texts of 1-200 characters: only blank ones are left to find
            field, bad, bad_texts = _attributes(rows), np.zeros(n, bool), _blank
        else:
            (field, bad), bad_texts = self._objects(values), self._bad_texts
        ids = field("detector_id")
        code, wrong = self._codes(ids, typed, bad_texts)
        bad |= wrong
        ids = _objects(ids, wrong.any())
        for name in _CHECKED:  # checked as the codec does, not carried (see kendali.columns)
            bad |= bad_texts(field(name))
        t, offset = self._times_of(field("ts"), now, bad)
        interval, wrong = _number_column(field("interval_s"), 86_400.0, typed)
        bad |= wrong | ~(interval >= 1)
        numbers = np.empty((n, 3), np.float64)
        for k, (name, hi) in enumerate(_NUMBERS):
            numbers[:, k], wrong = _number_column(field(name), hi, typed)
            bad |= wrong
        bad |= np.isnan(numbers).all(axis=1)
        good = np.flatnonzero(~bad)
        cols = TrafficColumns(
            ids[good],
            t[good],
            offset[good],
            interval[good].astype(np.int64),
            numbers[good],
            good.astype(np.int64),
            code[good],
            partition,
        )
        return self._slow(cols, values, np.flatnonzero(bad), now)

    def _wire(self, values: list[bytes | None]) -> list[_Wire] | None:
        """The whole batch parsed in one call, or ``None`` if any message is not a plain
        :class:`_Wire` object on a line of its own (then each is parsed on its own)."""
        try:
            if not values or max(map(len, values)) > self.limits.max_bytes:
                return None
            lines = b"\n".join(values)
            if lines.count(b"\n") != len(values) - 1:  # a newline inside a message
                return None
            rows = _WIRE.decode_lines(lines)
        except (TypeError, msgspec.DecodeError):  # a None value, or any message off the schema
            return None
        return rows if len(rows) == len(values) else None  # blank messages are skipped lines

    def _objects(self, values: list[bytes | None]) -> tuple[Callable[[str], list[Any]], np.ndarray]:
        """Each message parsed on its own: a field getter over the JSON objects, and the rows
        that are not JSON objects, are oversized or have another schema version."""
        big = self.limits.max_bytes
        objs = [None if v is None or len(v) > big else _loads(v) for v in values]
        bad = _mask(objs, lambda o: type(o) is dict)
        objs = [o if type(o) is dict else {} for o in objs]
        schema = [o.get("schema", 1) for o in objs]
        if set(map(type, schema)) != {int} or set(schema) != {1}:
            bad |= _mask(schema, lambda s: s == 1)
        return functools.partial(_field, objs), bad

    def _codes(
        self, ids: list[Any], typed: bool, bad_texts: Callable[[list[Any]], np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each id's number (-1 if not a known detector) and the rows whose id is not a valid
        text; known ids are valid (``__init__`` keeps only those)."""
        n = len(ids)
        if typed and self._known:  # all texts: the lookup first, text checks for the unknown
            code = codes(self._known, ids)
            wrong = np.zeros(n, bool)
            unknown = np.flatnonzero(code < 0)
            if len(unknown):
                wrong[unknown] = bad_texts([ids[i] for i in unknown.tolist()])
            return code, wrong
        wrong = bad_texts(ids)  # ids may be anything here, even unhashable
        code = np.full(n, -1, np.int64)
        if self._known:
            ok = np.flatnonzero(~wrong)
            code[ok] = codes(self._known, [ids[i] for i in ok.tolist()])
        return code, wrong

    def _bad_texts(self, column: list[Any]) -> np.ndarray:
        """Rows whose text is missing, not a string, blank or too long."""
        try:
            if self._texts.issuperset(column):  # the usual case: names seen before, all valid
                return np.zeros(len(column), bool)
        except TypeError:  # an unhashable value (a JSON list or object)
            return _mask(column, _valid_text)
        if set(map(type, column)) == {str}:
            new = set(column) - self._texts
            if not new:
                return np.zeros(len(column), bool)
            valid = {v for v in new if _valid_text(v)}
            if len(self._texts) + len(valid) > _CACHE_MAX:
                self._texts.clear()
            self._texts |= valid
            if len(valid) == len(new):
                return np.zeros(len(column), bool)
        return _mask(column, _valid_text)

    def _times_of(
        self, column: list[Any], now: datetime, bad: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Epoch seconds and UTC offsets (µs); rows out of range or unparsable are bad."""
        if set(map(type, column)) != {str}:
            bad |= _mask(column, lambda v: type(v) is str)
            column = [v if type(v) is str else "" for v in column]
        t, offset = self._times(column)
        lo = (now - self.limits.max_past).timestamp()
        hi = (now + self.limits.max_future).timestamp()
        bad |= ~((t >= lo) & (t <= hi))  # NaN (unparsable) is never in range
        return t, offset

    def _slow(
        self, cols: TrafficColumns, values: list[bytes | None], rows: np.ndarray, now: datetime
    ) -> tuple[TrafficColumns, list[tuple[int, str]]]:
        """Rows the column checks did not accept, decided by the codec itself."""
        rejected, extra, where = [], [], []
        for i in rows.tolist():
            result = decode_traffic(values[i], now=now, limits=self.limits)
            if isinstance(result, Rejected):
                rejected.append((i, result.reason))
            else:
                extra.append(result)
                where.append(i)
        if not extra:
            return cols, rejected
        more = TrafficColumns.from_readings(extra, cols.partition, np.array(where, np.int64))
        both = TrafficColumns.concat([cols, more])
        return both.take(np.argsort(both.index, kind="stable")), rejected


class _Times:
    """Timestamp texts parsed once each: a number per distinct text, and epoch seconds and UTC
    offsets by number, so that a column takes one dictionary lookup a row (bounded: all are
    dropped beyond ``_CACHE_MAX`` texts).

    >>> times = _Times()
    >>> t, offset = times(["2026-11-27T08:05:00+08:00", "nope", "2026-11-27T08:05:00+08:00"])
    >>> t.tolist()[::2], offset.tolist()
    ([1795737900.0, 1795737900.0], [28800000000, 0, 28800000000])
    """

    def __init__(self):
        self.number: dict[str, int] = {}
        self.t = np.empty(0, np.float64)
        self.offset = np.empty(0, np.int64)

    def __call__(self, column: list[str]) -> tuple[np.ndarray, np.ndarray]:
        try:
            rows = np.fromiter(map(self.number.__getitem__, column), np.int64, len(column))
        except KeyError:  # texts not seen yet
            self._add(set(column))
            rows = np.fromiter(map(self.number.__getitem__, column), np.int64, len(column))
        return self.t[rows], self.offset[rows]

    def _add(self, column: set[str]) -> None:
        texts = list(column - self.number.keys())
        if len(self.number) + len(texts) > _CACHE_MAX:
            self.__init__()  # start afresh, with the whole column
            texts = list(column)
        start = len(self.number)
        self.number.update({text: start + k for k, text in enumerate(texts)})
        parsed = [_parse_ts(text) for text in texts]
        self.t = np.concatenate([self.t, np.array([t for t, _ in parsed], np.float64)])
        self.offset = np.concatenate([self.offset, np.array([o for _, o in parsed], np.int64)])


def _parse_ts(text: str) -> tuple[float, int]:
    """(epoch seconds, UTC offset in µs) of an ISO 8601 time with offset; (NaN, 0) if it is not
    one."""
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return math.nan, 0
    if ts.utcoffset() is None:
        return math.nan, 0
    return ts.timestamp(), offset_us(ts)


def _mask(column: list[Any], valid) -> np.ndarray:
    """Rows of ``column`` that are not ``valid``."""
    return np.fromiter((not valid(v) for v in column), bool, len(column))


def _number_column(
    column: list[Any], hi: float, typed: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Optional numbers as floats (NaN for missing) and the rows that break the codec's rule;
    ``typed`` columns are known to hold only ints, floats and ``None``."""
    n = len(column)
    if typed or set(map(type, column)) <= _NUMBER_TYPES:
        try:
            x = np.array(column, np.float64).reshape(n)
        except OverflowError:
            x = None
        if x is not None:
            return x, (x < 0) | (x > hi)
    x = np.full(n, math.nan)
    wrong = np.zeros(n, bool)
    for i, v in enumerate(column):
        if v is None:
            continue
        if type(v) not in (int, float) or not 0 <= v <= hi:
            wrong[i] = True
        else:
            x[i] = float(v)
    return x, wrong


def _objects(column: list[Any], mixed: bool) -> np.ndarray:
    """A column as an object array; ``mixed`` columns (some rows bad) hold "" for non-texts."""
    return object_array([v if type(v) is str else "" for v in column] if mixed else column)
