"""Univariate streaming anomaly scorer: the traffic bank's baseline applied to any one series.

:class:`StreamScorer` scores one value at a time, in [0, 1], learning as it goes (no look-ahead,
no knowledge of the series' range). It is what the NAB runner streams each file through, built
from the same :class:`~detectors.baseline.SeasonalBaseline` the traffic bank uses per measure:

1. robust z-scores of the value against its time-of-day bin and against the global baseline,
   and of the short-term change against the usual change;
2. a *surprise*: how improbable the recent raw anomaly is compared with this series' own history
   of raw anomalies (in the spirit of HTM's anomaly likelihood), so one global threshold means
   the same on a calm series and on a noisy one;
3. suppression: once the series has been flagged, only a clearly stronger surprise is reported
   again for a while (an operator wants one alert per event, not one per sample).

>>> from datetime import UTC, datetime, timedelta
>>> s = StreamScorer()
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> calm = [s.score_one(t0 + timedelta(minutes=5 * i), 10.0 + i % 3) for i in range(600)]
>>> max(calm[300:]) < 0.3, s.score_one(t0 + timedelta(minutes=5 * 600), 40.0) > 0.8
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from detectors.baseline import SeasonalBaseline

__all__ = ["StreamParams", "StreamScorer"]


@dataclass(frozen=True, slots=True)
class StreamParams:
    """Tuning of :class:`StreamScorer`; general defaults, not fitted to any one file."""

    bins: int = 24
    alpha: float = 0.05
    alpha_global: float = 0.01
    min_count: int = 10
    short: float = 0.5
    long: float = 0.002
    warmup: int = 150
    hold: int = 300
    flag: float = 0.15
    floor_rel: float = 1e-3


class StreamScorer:
    """Score one series online; see the module doc for the method."""

    def __init__(self, params: StreamParams | None = None) -> None:
        self.params = p = params or StreamParams()
        self._base = SeasonalBaseline(
            1, p.bins, 2, (1e-6, 1e-6), floor_rel=p.floor_rel, alpha=p.alpha,
            alpha_global=p.alpha_global, min_count=p.min_count,
        )  # fmt: skip
        self._prev = math.nan
        self._seen = 0
        self._short = 0.0
        self._mean = 0.0
        self._var = 1.0
        self._held = 0
        self._peak = 0.0

    def score_one(self, ts: datetime, value: float) -> float:
        """Anomaly score of ``value`` observed at ``ts`` (then learn it)."""
        raw = self._raw(ts, value)
        surprise = self._surprise(raw)
        self._seen += 1
        return self._suppress(surprise)

    def _raw(self, ts: datetime, value: float) -> float:
        p = self.params
        diff = value - self._prev if not math.isnan(self._prev) else math.nan
        self._prev = value
        x = np.array([[value, diff]], np.float32)
        b = np.array([(ts.hour * 60 + ts.minute) * p.bins // 1440])
        s = np.array([0])
        z_bin = self._base.score(s, b, x)[0]
        self._base.learn(s, b, x)
        return float(np.nanmax(np.abs(np.nan_to_num(z_bin))))

    def _surprise(self, raw: float) -> float:
        p = self.params
        a = math.log1p(raw)
        self._short += p.short * (a - self._short)
        alpha = 1.0 / (self._seen + 1) if self._seen < p.warmup else p.long
        d = self._short - self._mean
        z = d / math.sqrt(self._var + 1e-6)
        self._mean += alpha * d
        self._var += alpha * (d * d - self._var)
        if self._seen < p.warmup:
            return 0.0
        tail = max(0.5 * math.erfc(z / math.sqrt(2.0)), 1e-300)
        return min(1.0, -math.log10(tail) / 30.0)

    def _suppress(self, surprise: float) -> float:
        p = self.params
        if self._held > 0:
            self._held -= 1
            if surprise <= self._peak:
                return surprise * 0.5
        if surprise > self.params.flag:
            self._held, self._peak = p.hold, surprise
        return surprise
