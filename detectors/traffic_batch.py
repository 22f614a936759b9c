"""Helpers of :meth:`detectors.traffic.TrafficBank.process`'s vectorised batch path."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import numpy as np

from kendali.columns import TrafficColumns

__all__ = ["Batch", "bins_of", "columns_measures", "distinct_runs", "swapped", "time_bin"]


@dataclass(frozen=True, slots=True)
class Batch:
    """One :meth:`TrafficBank.process` call's readings and what is computed for all of them."""

    cols: TrafficColumns
    slots: np.ndarray
    epoch: np.ndarray
    bins: np.ndarray
    x: np.ndarray  # float32 (n, 3): occupancy, speed, volume per hour


def time_bin(ts: datetime, tz: tzinfo) -> int:
    """Baseline bin of a time: 24 hourly bins for weekdays, then 24 for weekends.

    >>> from zoneinfo import ZoneInfo
    >>> time_bin(datetime(2026, 11, 28, 8, 30, tzinfo=ZoneInfo("Asia/Makassar")),
    ...          ZoneInfo("Asia/Makassar"))
    32
    """
    local = ts.astimezone(tz)
    return (24 if local.weekday() >= 5 else 0) + local.hour


def bins_of(epoch: np.ndarray, tz: tzinfo) -> np.ndarray:
    """:func:`time_bin` of many epoch seconds, computed once per quarter
    hour (zone offsets are whole quarters).

    >>> from zoneinfo import ZoneInfo
    >>> t = int(datetime(2026, 11, 28, 8, 30, tzinfo=UTC).timestamp())  # a Saturday
    >>> bins_of(np.array([t, t + 60, t + 16 * 3600]), ZoneInfo("Asia/Makassar")).tolist()
    [40, 40, 32]
    """
    quarters, where = np.unique(epoch // 900, return_inverse=True)
    bins = [time_bin(datetime.fromtimestamp(q * 900, UTC), tz) for q in quarters.tolist()]
    return np.array(bins, np.int64)[where.reshape(-1)]


def distinct_runs(slots: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index ranges cutting ``slots`` into runs without a repeated slot (each run
    as long as it can be), found with array operations: a gathered batch often holds two or
    three readings of every detector.

    >>> distinct_runs(np.array([1, 2, 1, 3, 3]))
    [(0, 2), (2, 4), (4, 5)]
    """
    n = len(slots)
    order = np.argsort(slots, kind="stable")
    same = slots[order[1:]] == slots[order[:-1]]
    if not same.any():  # the usual case without gathering: one reading per detector
        return [(0, n)]
    prev = np.full(n, -1, np.int64)  # where the same slot came last before, -1 for never
    prev[order[1:][same]] = order[:-1][same]
    out, start = [], 0
    while True:
        repeat = np.flatnonzero(prev[start:] >= start)  # slots already seen in this run
        if not repeat.size:
            out.append((start, n))
            return out
        end = start + int(repeat[0])
        out.append((start, end))
        start = end


@contextmanager
def swapped(owner: object, slot: int, values: Mapping[str, object]) -> Iterator[None]:
    """Temporarily give ``slot`` other values in the arrays of ``owner`` named by ``values``.

    >>> from types import SimpleNamespace
    >>> o = SimpleNamespace(a=np.zeros(2))
    >>> with swapped(o, 1, {"a": 5.0}):
    ...     o.a.tolist()
    [0.0, 5.0]
    >>> o.a.tolist()
    [0.0, 0.0]
    """
    saved = {name: getattr(owner, name)[slot].copy() for name in values}
    for name, value in values.items():
        getattr(owner, name)[slot] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            getattr(owner, name)[slot] = value


def columns_measures(cols: TrafficColumns) -> np.ndarray:
    """(occupancy %, speed km/h, volume veh/h) of many readings, one float32 row each, NaN for
    what a detector lacks and no speed without vehicles.

    >>> from datetime import UTC, datetime
    >>> from kendali.records import TrafficReading
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> r = TrafficReading("D", "A", "N", t, 300, 0.0, None, 30.0)
    >>> columns_measures(TrafficColumns.from_readings([r])).tolist()
    [[nan, nan, 0.0]]
    """
    volume, occupancy, speed = cols.values.T
    per_hour = volume * 3600.0 / np.maximum(cols.interval, 1)
    speed = np.where(volume == 0, np.nan, speed)
    return np.stack([occupancy, speed, per_hour], axis=1).astype(np.float32)
