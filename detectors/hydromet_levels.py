"""River levels: Siaga ranks with hysteresis, the rise rate and the time to the next level.

A river gauge has three alert levels in cm, Siaga 3 < Siaga 2 < Siaga 1. Kendali counts them as a
*rank*: 0 normal, 1 Siaga 3, 2 Siaga 2, 3 Siaga 1, so "higher is worse" everywhere. A rank rises as
soon as the level reaches a threshold and falls only once the level is clearly below it (a margin),
so a river hovering at a threshold does not flap between two alerts.

>>> t = LevelTracker((150.0, 200.0, 260.0))
>>> [t.update(ts, cm) for ts, cm in [(0, 140), (900, 152), (1800, 148), (2700, 130)]]
[0, 1, 1, 0]
>>> round(t.rise_cm_per_h(), 1)
-13.6
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SIAGA_NAMES", "LevelParams", "LevelTracker", "rank_name", "raw_rank"]

#: Display names of the ranks (index = rank).
SIAGA_NAMES = ("normal", "Siaga 3", "Siaga 2", "Siaga 1")


def rank_name(rank: int) -> str:
    """Name of a rank, ``0 -> "normal"``, ``2 -> "Siaga 2"``.

    >>> rank_name(3)
    'Siaga 1'
    """
    return SIAGA_NAMES[rank]


def raw_rank(level_cm: float, thresholds: tuple[float, float, float]) -> int:
    """How many alert levels a water level has reached, without hysteresis.

    >>> raw_rank(199.9, (150, 200, 260)), raw_rank(200, (150, 200, 260))
    (1, 2)
    """
    return sum(1 for t in thresholds if level_cm >= t)


@dataclass(frozen=True, slots=True)
class LevelParams:
    """How a level tracker smooths and projects; times in minutes, levels in cm."""

    #: The rise rate is a least-squares slope over at least this span (and two readings).
    trend_window_min: float = 60.0
    #: A rank falls only once the level is this far below its threshold ...
    hysteresis_cm: float = 10.0
    #: ... or this fraction of the gap to the threshold below, whichever is larger.
    hysteresis_frac: float = 0.1
    #: Rises slower than this are "steady": no projection is made.
    min_rise_cm_per_h: float = 5.0
    #: Projections further ahead than this are not announced.
    horizon_min: float = 90.0


class LevelTracker:
    """Online state of one river gauge: hysteretic rank, recent levels and their trend."""

    def __init__(self, thresholds: tuple[float, float, float], params: LevelParams | None = None):
        self.thresholds = tuple(float(t) for t in thresholds)
        self.params = params or LevelParams()
        self.rank = 0
        self.level_cm: float | None = None
        self._recent: list[tuple[float, float]] = []  # (epoch seconds, cm), oldest first

    def update(self, t: float, level_cm: float, interval_s: float = 0.0) -> int:
        """Take one reading (epoch seconds, cm) and return the hysteretic rank."""
        self.level_cm = level_cm
        self._recent.append((t, level_cm))
        window = max(self.params.trend_window_min * 60.0, 2.0 * interval_s)
        while self._recent[0][0] < t - window:
            self._recent.pop(0)
        self.rank = self._hysteretic_rank(level_cm)
        return self.rank

    def _hysteretic_rank(self, level_cm: float) -> int:
        raw = raw_rank(level_cm, self.thresholds)
        rank = max(self.rank, raw)
        while rank > raw and level_cm < self.thresholds[rank - 1] - self._margin(rank):
            rank -= 1
        return rank

    def _margin(self, rank: int) -> float:
        below = self.thresholds[rank - 2] if rank >= 2 else 0.0
        gap = self.thresholds[rank - 1] - below
        return max(self.params.hysteresis_cm, self.params.hysteresis_frac * gap)

    def rise_cm_per_h(self) -> float:
        """Least-squares slope of the recent levels in cm per hour (0 with fewer than 2)."""
        pts = self._recent
        if len(pts) < 2:
            return 0.0
        n = len(pts)
        mt = sum(p[0] for p in pts) / n
        ml = sum(p[1] for p in pts) / n
        var = sum((p[0] - mt) ** 2 for p in pts)
        if var == 0:
            return 0.0
        cov = sum((p[0] - mt) * (p[1] - ml) for p in pts)
        return cov / var * 3600.0

    def projection(self) -> tuple[int, float] | None:
        """``(next rank, minutes to reach it)`` from the current trend, if within the horizon.

        >>> t = LevelTracker((150.0, 200.0, 260.0))
        >>> _ = t.update(0, 120), t.update(900, 130), t.update(1800, 140)
        >>> t.projection()
        (1, 15.0)
        """
        if self.level_cm is None or self.rank >= 3:
            return None
        rate = self.rise_cm_per_h()
        if rate < self.params.min_rise_cm_per_h:
            return None
        target = self.thresholds[self.rank]
        eta_min = max(0.0, (target - self.level_cm) / rate * 60.0)
        if eta_min > self.params.horizon_min:
            return None
        return self.rank + 1, round(eta_min, 1)

    def forget_trend(self) -> None:
        """Drop the recent levels (after a gap or a fault, the old trend means nothing)."""
        self._recent.clear()
