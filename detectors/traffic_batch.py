"""Helpers of :meth:`detectors.traffic.TrafficBank.process`'s vectorised batch path."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime

import numpy as np

from kendali.records import TrafficReading

__all__ = ["cached_bin", "distinct_runs", "measures_of", "swapped"]


def distinct_runs(slots: Sequence[int]) -> list[tuple[int, int]]:
    """[start, end) index ranges cutting ``slots`` into runs without a repeated slot.

    >>> distinct_runs([1, 2, 1, 3, 3])
    [(0, 2), (2, 4), (4, 5)]
    """
    out, seen, start = [], set(), 0
    for i, slot in enumerate(slots):
        if slot in seen:
            out.append((start, i))
            seen, start = set(), i
        seen.add(slot)
    out.append((start, len(slots)))
    return out


def cached_bin(ts: datetime, cache: dict[int, int], bin_of: Callable[[datetime], int]) -> int:
    """``bin_of(ts)`` memoised per UTC quarter hour (every zone offset is whole quarters).

    >>> from datetime import UTC
    >>> cache = {}
    >>> cached_bin(datetime(2026, 1, 1, 8, 5, tzinfo=UTC), cache, lambda t: t.hour), cache
    (8, {1963616: 8})
    """
    key = int(ts.timestamp()) // 900
    if key not in cache:
        cache[key] = bin_of(ts)
    return cache[key]


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


def measures_of(readings: Sequence[TrafficReading]) -> np.ndarray:
    """(occupancy %, speed km/h, volume veh/h) of many readings, one float32 row each, NaN for
    what a detector lacks and no speed without vehicles.

    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> measures_of([TrafficReading("D", "A", "N", t, 300, 0.0, None, 30.0)]).tolist()
    [[nan, nan, 0.0]]
    """
    raw = np.array([(r.occupancy, r.speed, r.volume, r.interval_s) for r in readings], np.float64)
    raw = raw.reshape(-1, 4)
    vol = raw[:, 2] * 3600.0 / np.maximum(raw[:, 3], 1)
    speed = np.where(raw[:, 2] == 0, np.nan, raw[:, 1])
    return np.stack([raw[:, 0], speed, vol], axis=1).astype(np.float32)
