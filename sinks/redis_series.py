"""Recent sensor values (for the wall's sparklines) and per-source data freshness.

Layout (see ``kendali.store``): one capped stream per sensor, ``P:series:<sensor>``, whose
entries hold ``ts`` and the value names (``XADD MAXLEN ~ maxlen``, missing values omitted,
numbers as redis-py writes them: ``repr`` of the float, ``str`` of an int), and the hash
``P:freshness`` with one JSON per source: ``last_event``, ``last_batch`` (points received since
the previous write) and ``last_write``.

Flushing: the sink keeps the newest point per sensor (by event time; an older point arriving
later, or one not newer than the last point written for its sensor, is dropped) and writes the
buffer with one Lua call when ``min_gap_s`` of wall time has passed since the last write, checked
at each ``write_batch``, and at ``close()``. A line-rate replay thus writes each sensor at most
once per ``min_gap_s`` (a bounded number of commands whatever the input rate), while live data
(each detector once a minute) loses nothing: a point waits at most ``min_gap_s`` *if another
batch arrives*. Bytewax calls ``write_batch`` only when items arrive, so the last point before a
silence waits for the next batch, or ``close()``; a flow that wants a bound without traffic can
send an empty item (``[]``) from a clock source, as the city flow does on every bank tick
(2 s). ``min_gap_s=0`` is write-through: every batch is written, and ``write_batch`` returns
once Redis has applied it (tests rely on this). Otherwise a write is sent without waiting for
Redis' reply, which is read before the next write (so Redis' work overlaps the dataflow's) and
at ``close()``.

Delivery: best-effort, a view rather than a record. A Redis outage makes the flow wait
(``retry_forever``), and a write whose reply is lost is sent again. A killed process loses the
buffered points, at most ``min_gap_s`` of them per sensor (Bytewax does not replay epochs it
already snapshotted); a replay after a crash rewrites points the stream may already hold. The
series keys are not declared to the script (``KEYS``), so this is not Redis-Cluster safe.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import orjson
import redis
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from kendali.store import Keys
from sinks.redis_retry import retry_forever

__all__ = ["RedisSeriesSink", "SensorPoint", "SeriesColumns", "format_cells"]


@dataclass(frozen=True, slots=True)
class SensorPoint:
    """One reading reduced to what a sparkline needs."""

    source: str
    sensor: str
    ts: float
    values: dict


@dataclass(frozen=True, slots=True, eq=False)
class SeriesColumns:
    """The readings of one source batch as columns, one row per reading.

    ``sensors`` are names as in ``SensorPoint`` (``atcs:<detector>``); ``ts`` is float64 epoch
    seconds; each ``values`` array is float64 with NaN for a missing value (omitted from the
    stream entry, and written as the float's ``repr``: a count 12 becomes ``12.0``). Rows of the
    same sensor may repeat: the newest wins. The sink never builds per-reading objects from it.

    >>> speed = np.array([41.5, np.nan])
    >>> cols = SeriesColumns("atcs", ["atcs:A", "atcs:B"], np.array([60.0, 60.0]), {"speed": speed})
    >>> len(cols)
    2
    >>> SeriesColumns("atcs", ["atcs:A"], np.array([60.0, 61.0]), {})
    Traceback (most recent call last):
    ...
    ValueError: SeriesColumns('atcs'): expected ts of shape (1,), one per sensor, got (2,)
    """

    source: str
    sensors: list[str]
    ts: np.ndarray
    values: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        n = len(self.sensors)
        for name, column in (("ts", self.ts), *self.values.items()):
            if np.shape(column) != (n,):
                msg = f"SeriesColumns({self.source!r}): expected {name} of shape ({n},), one per"
                raise ValueError(f"{msg} sensor, got {np.shape(column)}")

    def __len__(self) -> int:
        return len(self.sensors)


def format_cells(cells: np.ndarray) -> bytes:
    """A JSON array of the cells as the strings redis-py writes for floats; NaN becomes null.

    Strings, because the script's cjson would decode numbers to doubles and Redis would print
    them with 14 digits. orjson writes a numpy array in bulk with the same shortest digits as
    ``repr`` and in the same form, except below 1e-4 (``0.00001`` for ``1e-05``) and for
    infinities (``null``): those few cells are formatted with ``repr``.

    >>> format_cells(np.array([[1795821056.25, 12.0, np.nan], [1e-05, -np.inf, -0.0]]))
    b'["1795821056.25","12.0",null,"1e-05","-inf","-0.0"]'
    """
    flat = np.ascontiguousarray(cells, dtype=np.float64).reshape(-1)
    text = orjson.dumps(flat, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
    if not text:
        return b"[]"
    size = np.abs(flat)
    odd = np.flatnonzero(((size < 1e-4) & (size > 0)) | np.isinf(flat))
    if odd.size:
        tokens = text.split(b",")
        for i in odd.tolist():
            tokens[i] = repr(float(flat[i])).encode()
        quoted = b'","'.join(tokens)
    else:
        quoted = text.replace(b",", b'","')
    return (b'["' + quoted + b'"]').replace(b'"null"', b"null")


#: KEYS: freshness hash. ARGV: maxlen, JSON [source, info, ...], then per group of entries three
#: JSON arrays: field names, stream keys, and the cells row by row (strings; null = omitted).
WRITE_LUA = """
local call, decode, unpack, null = redis.call, cjson.decode, unpack, cjson.null
local fresh = decode(ARGV[2])
for i = 1, #fresh, 2 do
  call('HSET', KEYS[1], fresh[i], fresh[i + 1])
end
local args, written = {false, 'MAXLEN', '~', ARGV[1], '*'}, 0
for g = 3, #ARGV, 3 do
  local names, keys, cells = decode(ARGV[g]), decode(ARGV[g + 1]), decode(ARGV[g + 2])
  local width, i = #names, 0
  for r = 1, #keys do
    local n = 5
    args[1] = keys[r]
    for c = 1, width do
      local v = cells[i + c]
      if v ~= null then
        args[n + 1], args[n + 2], n = names[c], v, n + 2
      end
    end
    i = i + width
    call('XADD', unpack(args, 1, n))
  end
  written = written + #keys
end
return written
"""


def _text(sensor: str, name: str, value) -> str | None:
    """A point's value as redis-py would write it; None (or NaN) means omitted."""
    if value is None or type(value) is int:
        return None if value is None else str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        msg = f"sensor {sensor!r}: value {name!r} must be a number, got {value!r}"
        raise TypeError(msg) from None
    return None if math.isnan(number) else repr(number)


class _Codes(dict):
    """Sensor name -> dense index (unseen names get the next one), and index -> stream key."""

    def __init__(self, keys: Keys):
        super().__init__()
        self.keys = keys
        self.stream_keys: list[str] = []

    def __missing__(self, sensor: str) -> int:
        code = self[sensor] = len(self.stream_keys)
        self.stream_keys.append(self.keys.series(sensor))
        return code


class _Buffer:
    """The newest unwritten point per sensor, in arrays indexed by sensor code."""

    def __init__(self, keys: Keys):
        self.codes = _Codes(keys)
        self.pending = np.full(0, -np.inf)  # ts of the buffered point, -inf = none
        self.written = np.full(0, -np.inf)  # ts of the last point written
        self.owner = np.zeros(0, np.intp)  # scratch: the row that wins a sensor
        self.values: dict[str, np.ndarray] = {}  # value name -> value per code, NaN = none
        self.text: dict[int, tuple[tuple[str, ...], list[str]]] = {}  # SensorPoints: exact text

    def _reserve(self) -> None:
        size, cap = len(self.codes), len(self.pending)
        if size > cap:
            more = max(size, 2 * cap, 1024) - cap
            self.pending = np.concatenate((self.pending, np.full(more, -np.inf)))
            self.written = np.concatenate((self.written, np.full(more, -np.inf)))
            self.owner = np.concatenate((self.owner, np.zeros(more, np.intp)))
            for name, store in self.values.items():
                self.values[name] = np.concatenate((store, np.full(more, np.nan)))

    def add_columns(self, batch: SeriesColumns) -> None:
        n = len(batch.sensors)
        codes = np.fromiter(map(self.codes.__getitem__, batch.sensors), np.intp, n)
        self._reserve()
        ts = np.asarray(batch.ts, dtype=np.float64)
        rows = np.flatnonzero((ts > self.written[codes]) & (ts >= self.pending[codes]))
        if not rows.size:
            return
        codes, ts = codes[rows], ts[rows]
        np.maximum.at(self.pending, codes, ts)
        newest = ts == self.pending[codes]  # each sensor's newest rows
        rows, codes = rows[newest], codes[newest]
        self.owner[codes] = -1
        np.maximum.at(self.owner, codes, rows)  # equal ts: the later row wins
        last = self.owner[codes] == rows
        rows, codes = rows[last], codes[last]
        for name in [name for name in batch.values if name not in self.values]:
            self.values[name] = np.full(len(self.pending), np.nan)
        for name, store in self.values.items():
            column = batch.values.get(name)
            store[codes] = np.nan if column is None else np.asarray(column, np.float64)[rows]
        if self.text:
            for code in codes.tolist():
                self.text.pop(code, None)

    def add_point(self, point: SensorPoint) -> None:
        code = self.codes[point.sensor]
        self._reserve()
        ts = float(point.ts)
        if not (ts > self.written[code] and ts >= self.pending[code]):
            return
        self.pending[code] = ts
        cells = {k: _text(point.sensor, k, v) for k, v in point.values.items()}
        names = tuple(k for k, v in cells.items() if v is not None)
        stamp = _text(point.sensor, "ts", point.ts)
        self.text[code] = (("ts", *names), [stamp, *(cells[k] for k in names)])

    def drain(self) -> list[bytes]:
        """The buffered points as script arguments (groups of names, keys, cells); empties it."""
        pending = np.flatnonzero(self.pending > -np.inf)
        keys = self.codes.stream_keys
        groups: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}
        for code, (names, cells) in self.text.items():
            group = groups.setdefault(names, ([], []))
            group[0].append(keys[code])
            group[1].extend(cells)
        args = [orjson.dumps(x) for names, group in groups.items() for x in (names, *group)]
        columnar = pending
        if self.text:
            text = np.fromiter(self.text, np.intp, len(self.text))
            columnar = np.setdiff1d(pending, text, assume_unique=True)
            self.text.clear()
        if columnar.size:
            stores = (self.pending, *self.values.values())
            cells = np.column_stack([store[columnar] for store in stores])
            args.append(orjson.dumps(["ts", *self.values]))
            args.append(orjson.dumps(list(map(keys.__getitem__, columnar.tolist()))))
            args.append(format_cells(cells))
        self.written[pending] = self.pending[pending]
        self.pending[pending] = -np.inf
        return args


class _SeriesPartition(StatelessSinkPartition[SensorPoint | list[SensorPoint] | SeriesColumns]):
    def __init__(
        self, url: str, keys: Keys, maxlen: int, min_gap_s: float, clock: Callable[[], float]
    ):
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._script = self._client.register_script(WRITE_LUA)
        self._conn: redis.Connection | None = None
        self._keys = keys
        self._maxlen = maxlen
        self._min_gap_s = min_gap_s
        self._clock = clock
        self._buffer = _Buffer(keys)
        self._fresh: dict[str, list] = {}  # source -> [newest event ts, points received]
        self._last_flush = -math.inf
        self._in_flight: tuple | None = None  # the command sent whose reply is unread

    def write_batch(self, items: list[SensorPoint | list[SensorPoint] | SeriesColumns]) -> None:
        for item in items:
            for part in item if type(item) is list else (item,):
                self._add(part)
        now = self._clock()
        if self._fresh and now - self._last_flush >= self._min_gap_s:
            self._flush(now)
            if self._min_gap_s <= 0:
                self._finish()

    def _add(self, item: SensorPoint | SeriesColumns) -> None:
        if type(item) is SeriesColumns:
            if len(item.sensors):
                self._buffer.add_columns(item)
                ts = np.asarray(item.ts, dtype=np.float64)
                newest = ts.max()
                if newest != newest:  # NaN among the ts
                    newest = np.max(ts, initial=-np.inf, where=ts == ts)
                self._count(item.source, float(newest), len(ts))
        elif type(item) is SensorPoint:
            self._buffer.add_point(item)
            self._count(item.source, float(item.ts), 1)
        else:
            msg = "sensor series sink: expected SensorPoint, list of them or SeriesColumns, got"
            raise TypeError(f"{msg} {type(item).__name__}")

    def _count(self, source: str, newest: float, n: int) -> None:
        info = self._fresh.get(source)
        if info is None:
            self._fresh[source] = [newest, n]
        else:
            info[0], info[1] = max(info[0], newest), info[1] + n

    def _flush(self, now: float) -> None:
        """Send the buffer and the freshness counts as one script call."""
        fresh = []
        for source, (newest, count) in self._fresh.items():
            info = {"last_event": newest, "last_batch": count, "last_write": now}
            fresh += [source, orjson.dumps(info).decode()]
        args = [self._maxlen, orjson.dumps(fresh), *self._buffer.drain()]
        self._fresh.clear()
        self._last_flush = now
        self._finish()
        command = ("EVALSHA", self._script.sha, 1, self._keys.freshness, *args)
        self._in_flight = command
        retry_forever(lambda: self._send(command), "sensor history write")

    def _send(self, command: tuple) -> None:
        if self._conn is None:
            self._client.script_load(WRITE_LUA)
            self._conn = self._client.connection_pool.get_connection()
        self._conn.send_command(*command)

    def _finish(self) -> None:
        """Wait for the reply of the write in flight; send it again if it was lost."""
        command, self._in_flight = self._in_flight, None
        if command is None:
            return
        resend = False

        def attempt():
            nonlocal resend
            if resend:
                self._send(command)
            resend = True
            try:
                return self._conn.read_response()
            except redis.exceptions.NoScriptError:
                self._client.script_load(WRITE_LUA)  # a restarted Redis forgot the script
                self._conn.send_command(*command)
                return self._conn.read_response()

        retry_forever(attempt, "sensor history write")

    def close(self) -> None:
        if self._fresh:
            self._flush(self._clock())
        self._finish()
        if self._conn is not None:
            self._client.connection_pool.release(self._conn)
            self._conn = None
        self._client.close()


class RedisSeriesSink(DynamicSink[SensorPoint | list[SensorPoint] | SeriesColumns]):
    """Capped per-sensor streams plus the freshness hash (see module docstring).

    Items are points, lists of points, or ``SeriesColumns`` (the flow sends one per source
    batch). ``clock`` gives wall time in epoch seconds (injected by tests).
    """

    def __init__(
        self,
        url: str,
        prefix: str = "kendali",
        maxlen: int = 300,
        min_gap_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ):
        self.url = url
        self.keys = Keys(prefix)
        self.maxlen = maxlen
        self.min_gap_s = min_gap_s
        self.clock = clock

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _SeriesPartition:
        return _SeriesPartition(self.url, self.keys, self.maxlen, self.min_gap_s, self.clock)
