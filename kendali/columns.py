"""ATCS readings as columns: how the line-rate traffic path carries a batch without building one
Python object per reading.

A :class:`TrafficColumns` is one batch of valid readings (from one Kafka partition when it
leaves the decoder), one numpy array per field. Detector banks score whole columns at once and
build a :class:`~kendali.records.TrafficReading` only for the few rows that need the
per-reading path (:meth:`TrafficColumns.reading`). The message's ``intersection`` and
``approach`` are checked by the decoder but not carried: detection names a detector's place
from the city's configuration, and two text columns less halve what a batch costs to copy and
to send to another process.

>>> from datetime import UTC, datetime
>>> t = datetime(2026, 11, 27, 8, 5, tzinfo=UTC)
>>> rs = [TrafficReading("D2", "A", "N", t, 300, 10.0, 20.0, 30.0),
...       TrafficReading("D1", "A", "S", t.replace(minute=0), 300, None, 5.0, None)]
>>> cols = TrafficColumns.from_readings(rs, partition=3)
>>> len(cols), cols.ids.tolist(), cols.in_time_order().ids.tolist()
(2, ['D2', 'D1'], ['D1', 'D2'])
>>> cols.reading(1, "A", "S") == rs[1], cols.newest() == t
(True, True)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import numpy as np

from kendali.records import TrafficReading

__all__ = ["VALUES", "TrafficColumns", "codes", "object_array", "offset_us"]

#: Column order of :attr:`TrafficColumns.values`.
VALUES = ("volume", "occupancy", "speed")


@dataclass(frozen=True, slots=True, eq=False)
class TrafficColumns:
    """Valid ATCS readings, one row each; ``values`` holds NaN where a reading lacks a measure.

    ``t`` is the event time in epoch seconds (what ordering and clocks use) and ``offset`` the
    UTC offset each timestamp was sent with, so :meth:`timestamp` gives it back as sent without
    a ``datetime`` object per row (those dominated copying and pickling the columns).
    ``index`` is each row's position in the source batch it was decoded from, so that a later
    check can dead-letter the original message. ``code`` is the detector's number in the city's
    list (-1 where not known yet): once the router has it, banks find a detector's state by
    array indexing instead of a dictionary lookup per reading.
    """

    ids: np.ndarray  # object: detector ids
    t: np.ndarray  # float64 epoch seconds
    offset: np.ndarray  # int64 microseconds east of UTC
    interval: np.ndarray  # int64 seconds
    values: np.ndarray  # float64 (n, 3), see VALUES
    index: np.ndarray  # int64
    code: np.ndarray  # int64 detector number, -1 if not known
    partition: int | None = None

    def __len__(self) -> int:
        return len(self.t)

    def __reduce__(self):
        """Pickle as one bytes block of numbers and one string of ids: batches cross Bytewax
        processes and go into snapshots pickled, and the default (each array, and each id in
        it, on its own) cost more per row than decoding the message did."""
        numbers = np.empty(len(self), _PACKED)
        for name in _PACKED.names:
            numbers[name] = getattr(self, name)
        return _unpack, (numbers.tobytes(), _joined(self.ids), self.partition)

    @classmethod
    def from_readings(
        cls,
        readings: Sequence[TrafficReading],
        partition: int | None = None,
        index: np.ndarray | None = None,
    ) -> TrafficColumns:
        """Columns of reading records (tests, replays and the codec's slow path)."""
        n = len(readings)
        values = np.array([(r.volume, r.occupancy, r.speed) for r in readings], np.float64).reshape(
            n, 3
        )
        return cls(
            object_array([r.detector_id for r in readings]),
            np.array([r.ts.timestamp() for r in readings], np.float64),
            np.array([offset_us(r.ts) for r in readings], np.int64),
            np.array([r.interval_s for r in readings], np.int64),
            values,
            np.arange(n, dtype=np.int64) if index is None else index,
            np.full(n, -1, np.int64),
            partition,
        )

    @classmethod
    def concat(cls, parts: Sequence[TrafficColumns]) -> TrafficColumns:
        """One batch of several; the partition is kept only when all parts share it."""
        if len(parts) == 1:
            return parts[0]
        partitions = {p.partition for p in parts}
        return cls(
            *(np.concatenate([getattr(p, name) for p in parts]) for name in _ARRAYS),
            partitions.pop() if len(partitions) == 1 else None,
        )

    def take(self, rows: np.ndarray) -> TrafficColumns:
        """The rows at ``rows`` (indices or a boolean mask), in that order."""
        return TrafficColumns(
            *(getattr(self, name)[rows] for name in _ARRAYS), partition=self.partition
        )

    def in_time_order(self) -> TrafficColumns:
        """Rows sorted by event time; equal times keep their order (a stable sort)."""
        t = self.t
        if len(t) < 2 or bool((t[1:] >= t[:-1]).all()):
            return self
        return self.take(np.argsort(t, kind="stable"))

    def newest(self) -> datetime:
        """The latest event time in the batch (the batch must not be empty)."""
        return datetime.fromtimestamp(float(self.t.max()), UTC)

    def timestamp(self, row: int) -> datetime:
        """Row ``row``'s timestamp with the UTC offset it was sent with."""
        tz = timezone(timedelta(microseconds=int(self.offset[row])))
        return datetime.fromtimestamp(float(self.t[row]), tz)

    def reading(self, row: int, intersection: str, approach: str) -> TrafficReading:
        """Row ``row`` as a record, as the codec would have built it from a message naming
        ``intersection`` and ``approach`` (which the columns do not carry)."""
        vol, occ, speed = (None if v != v else float(v) for v in self.values[row].tolist())
        return TrafficReading(
            self.ids[row],
            intersection,
            approach,
            self.timestamp(row),
            int(self.interval[row]),
            vol,
            occ,
            speed,
        )


def offset_us(ts: datetime) -> int:
    """UTC offset of an aware timestamp in microseconds.

    >>> offset_us(datetime.fromisoformat("2026-11-27T08:05:00+08:00"))
    28800000000
    """
    return (ts.utcoffset() or timedelta(0)) // timedelta(microseconds=1)


_ARRAYS = ("ids", "t", "offset", "interval", "values", "index", "code")
_PACKED = np.dtype(
    [
        ("t", "<f8"),
        ("offset", "<i8"),
        ("interval", "<i8"),
        ("values", "<f8", (3,)),
        ("index", "<i8"),
        ("code", "<i8"),
    ]
)
#: Joins the ids for pickling (ASCII unit separator); ids holding it are kept a list.
_SEP = "\x1f"


def _joined(column: np.ndarray) -> str | list[str]:
    texts = column.tolist()
    joined = _SEP.join(texts)
    return joined if texts and joined.count(_SEP) == len(texts) - 1 else texts


def object_array(values: Sequence) -> np.ndarray:
    """``values`` as a 1-d object array (``np.array`` would make fixed-width strings of them)."""
    out = np.empty(len(values), object)
    out[:] = values
    return out


def codes(table: dict[str, int], ids: list[str]) -> np.ndarray:
    """The code ``table`` gives each id, -1 where it has none: one C-level lookup per id when
    all are known (the usual case).

    >>> codes({"D1": 0, "D2": 1}, ["D2", "D1", "D9"]).tolist()
    [1, 0, -1]
    """
    try:
        return np.fromiter(map(table.__getitem__, ids), np.int64, len(ids))
    except KeyError:
        return np.fromiter(map(table.get, ids, itertools.repeat(-1)), np.int64, len(ids))


def _unpack(numbers: bytes, ids: str | list[str], partition: int | None) -> TrafficColumns:
    """:meth:`TrafficColumns.__reduce__`, the other way."""
    rec = np.frombuffer(numbers, _PACKED)
    arrays = {name: rec[name].copy() for name in _PACKED.names}  # contiguous and writable
    texts = ids.split(_SEP) if type(ids) is str else ids
    return TrafficColumns(object_array(texts), partition=partition, **arrays)
