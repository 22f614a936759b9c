"""Univariate streaming anomaly scorer: the traffic bank's baseline applied to any one series.

:class:`StreamScorer` scores one value at a time, in [0, 1], learning as it goes (no look-ahead,
no knowledge of the series' range). It is what the NAB runner streams each file through. Two
views of "unusual" are combined, each turned into a *surprise* (``-log10`` of how improbable it
is given this series' own history, so that one global threshold means the same on a calm series
and on a noisy one):

1. **Normal for this time** - robust z-scores of the value and of its change against the
   time-of-day profile of :class:`~detectors.baseline.SeasonalBaseline` (the traffic bank's
   baseline), judged by a Gaussian likelihood of their running distribution (in the spirit of
   HTM's anomaly likelihood).
2. **Seen this shape before** - distance of the last few values (scaled) to their nearest
   neighbour in the past, judged by its empirical tail; repeating spikes or cycles that the
   time-of-day view would flag every time are recognised here as old news.

The stronger surprise wins; after a flag, weaker ones are suppressed for ``hold`` samples (one
alert per event, not one per sample).

>>> from datetime import UTC, datetime, timedelta
>>> s = StreamScorer()
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> calm = [s.score_one(t0 + timedelta(minutes=5 * i), 10.0 + i % 3) for i in range(600)]
>>> max(calm[300:]) < 0.01, s.score_one(t0 + timedelta(minutes=5 * 600), 40.0) > 0.02
(True, True)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from detectors.baseline import SeasonalBaseline

__all__ = ["StreamParams", "StreamScorer"]

_LN10 = math.log(10.0)


@dataclass(frozen=True, slots=True)
class StreamParams:
    """Tuning of :class:`StreamScorer`; general defaults, not fitted to any one file."""

    bins: int = 24
    alpha: float = 0.05
    alpha_global: float = 0.01
    min_count: int = 10
    warmup: int = 150
    std_floor: float = 0.1
    shape: int = 8
    memory: int = 5000
    shape_weight: float = 2.0
    tail_scale: float = 0.5
    flag: float = 3.0
    hold: int = 200
    full_scale: float = 400.0


class _GaussianSurprise:
    """-log10 of the upper tail of x under the running mean/variance of past x."""

    def __init__(self, warmup: int, std_floor: float) -> None:
        self.warmup, self.std_floor = warmup, std_floor
        self.n, self.mean, self.var = 0, 0.0, 0.0

    def __call__(self, x: float) -> float:
        z = (x - self.mean) / max(math.sqrt(self.var), self.std_floor)
        ready = self.n >= self.warmup
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self.var += (d * d - self.var) / self.n
        if not ready:
            return 0.0
        return -math.log10(max(0.5 * math.erfc(z / math.sqrt(2.0)), 1e-300))


class _EmpiricalSurprise:
    """-log10 of the share of past x at least as large; beyond the record, an exponential tail."""

    def __init__(self, warmup: int, memory: int, tail_scale: float) -> None:
        self.warmup, self.tail_scale = warmup, tail_scale
        self._past = np.zeros(memory)
        self.n = 0

    def __call__(self, x: float) -> float:
        past = self._past[: min(self.n, len(self._past))]
        out = 0.0
        if self.n > self.warmup:
            above = int((past >= x).sum())
            out = -math.log10((above + 0.5) / (len(past) + 1))
            if above == 0:
                out += (x - past.max()) / (self.tail_scale * past.std() + 1e-9) / _LN10
        self._past[self.n % len(self._past)] = x
        self.n += 1
        return out


class _ShapeDistance:
    """Distance of the last ``w`` values (over a running scale) to their nearest past match."""

    def __init__(self, w: int, memory: int) -> None:
        self.w = w
        self._window: deque[float] = deque(maxlen=w)
        self._past = np.zeros((memory, w))
        self.n, self.seen, self.mean, self.dev = 0, 0, 0.0, 0.0

    def __call__(self, value: float) -> float | None:
        self.seen += 1
        if self.seen == 1:
            self.mean = value
        a = max(1.0 / self.seen, 0.001)
        self.dev += a * (abs(value - self.mean) - self.dev)
        self.mean += a * (value - self.mean)
        self._window.append(value)
        if len(self._window) < self.w:
            return None
        shape = np.asarray(self._window) / (self.dev + 1e-9)
        cap = len(self._past)
        usable = min(self.n - self.w, cap - self.w)  # never match an overlapping window
        dist = None
        if usable >= 10:
            rows = (self.n - self.w - 1 - np.arange(usable)) % cap
            dist = float(np.sqrt(((self._past[rows] - shape) ** 2).sum(1)).min())
        self._past[self.n % cap] = shape
        self.n += 1
        return None if dist is None else math.log1p(dist * 10.0 / math.sqrt(self.w))


class StreamScorer:
    """Score one series online; see the module doc for the method."""

    def __init__(self, params: StreamParams | None = None) -> None:
        self.params = p = params or StreamParams()
        self._base = SeasonalBaseline(
            1, p.bins, 2, (1e-6, 1e-6), floor_rel=1e-3, alpha=p.alpha,
            alpha_global=p.alpha_global, clip=math.inf, min_count=p.min_count,
        )  # fmt: skip
        self._level = _GaussianSurprise(p.warmup, p.std_floor)
        self._shape = _ShapeDistance(p.shape, p.memory)
        self._shape_tail = _EmpiricalSurprise(p.warmup, p.memory, p.tail_scale)
        self._prev = math.nan
        self._held, self._peak = 0, 0.0

    def score_one(self, ts: datetime, value: float) -> float:
        """Anomaly score of ``value`` observed at ``ts`` (then learn it)."""
        p = self.params
        level = self._level(self._seasonal_raw(ts, value))
        raw_shape = self._shape(value)
        shape = 0.0 if raw_shape is None else self._shape_tail(raw_shape)
        out = max(min(level, p.full_scale), p.shape_weight * min(shape, 100.0))
        return float(min(self._suppress(out) / p.full_scale, 1.0))

    def _seasonal_raw(self, ts: datetime, value: float) -> float:
        diff = value - self._prev
        self._prev = value
        b = np.array([(ts.hour * 60 + ts.minute) * self.params.bins // 1440])
        z = self._base.update(np.array([0]), b, np.array([[value, diff]], np.float32))[0]
        return math.log1p(float(np.max(np.abs(np.nan_to_num(z)))))

    def _suppress(self, out: float) -> float:
        if self._held > 0:
            self._held -= 1
            return out if out > self._peak else 0.0
        if out > self.params.flag:
            self._held, self._peak = self.params.hold, out
        return out
