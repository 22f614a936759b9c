"""Rain gauges: BMKG intensity classes, running accumulations and an anomaly score.

BMKG (Indonesia's meteorological agency) classes rain by hourly intensity (light 1-5 mm,
moderate 5-10, heavy 10-20, very heavy > 20 mm/h) and by daily accumulation (light 0.5-20 mm,
moderate 20-50, heavy 50-100, very heavy 100-150, extreme > 150 mm). A :class:`RainTracker`
keeps one station's last 24 hours, its accumulations over 1/3/6/24 hours, and how unusual the
last 24 hours are for that station in that calendar month (a z-score over past daily totals).

>>> hourly_class(12.0), daily_class(160.0)
('heavy', 'extreme')
>>> r = RainTracker()
>>> for h, mm in enumerate([2.0, 8.0, 25.0]):
...     r.update(h * 3600.0, mm, day=1, month=1)
>>> r.accumulations()
{'1h': 25.0, '3h': 35.0, '6h': 35.0, '24h': 35.0}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["DAILY_CLASSES", "HOURLY_CLASSES", "RainTracker", "daily_class", "hourly_class"]

#: (lower bound mm, class) for hourly intensity, ascending (BMKG).
HOURLY_CLASSES = ((1.0, "light"), (5.0, "moderate"), (10.0, "heavy"), (20.0, "very heavy"))
#: (lower bound mm, class) for 24-hour accumulation, ascending (BMKG).
DAILY_CLASSES = (
    (0.5, "light"),
    (20.0, "moderate"),
    (50.0, "heavy"),
    (100.0, "very heavy"),
    (150.0, "extreme"),
)
_WINDOWS_H = (1, 3, 6, 24)


def _classify(mm: float, classes: tuple[tuple[float, str], ...]) -> str:
    name = "none"
    for bound, label in classes:
        if mm >= bound:
            name = label
    return name


def hourly_class(mm_per_h: float) -> str:
    """BMKG class of an hourly rain intensity (``"none"`` below 1 mm/h).

    >>> hourly_class(0.5), hourly_class(20.0)
    ('none', 'very heavy')
    """
    return _classify(mm_per_h, HOURLY_CLASSES)


def daily_class(mm_per_day: float) -> str:
    """BMKG class of a 24-hour accumulation (``"none"`` below 0.5 mm).

    >>> daily_class(55.0)
    'heavy'
    """
    return _classify(mm_per_day, DAILY_CLASSES)


@dataclass(slots=True)
class RainTracker:
    """One rain station: readings of the last 24 h and per-month statistics of daily totals."""

    recent: list[tuple[float, float]] = field(default_factory=list)  # (epoch s, mm)
    #: month -> [count, mean, M2] of past daily totals (Welford), for the anomaly score.
    monthly: dict[int, list[float]] = field(default_factory=dict)
    _day: tuple[int, int] | None = None  # (month, day) of the day being totalled
    _day_total: float = 0.0

    def update(self, t: float, mm: float, *, day: int, month: int) -> None:
        """Add ``mm`` fallen in the interval ending at ``t``; ``day``/``month`` are local."""
        if self._day is not None and self._day != (month, day):
            self._close_day()
        self._day = (month, day)
        self._day_total += mm
        self.recent.append((t, mm))
        while self.recent and self.recent[0][0] <= t - 24 * 3600:
            self.recent.pop(0)

    def _close_day(self) -> None:
        stats = self.monthly.setdefault(self._day[0], [0.0, 0.0, 0.0])
        stats[0] += 1
        delta = self._day_total - stats[1]
        stats[1] += delta / stats[0]
        stats[2] += delta * (self._day_total - stats[1])
        self._day_total = 0.0

    def accumulations(self) -> dict[str, float]:
        """Rain over the last 1, 3, 6 and 24 hours (mm), ending at the latest reading."""
        if not self.recent:
            return {f"{h}h": 0.0 for h in _WINDOWS_H}
        end = self.recent[-1][0]
        return {
            f"{h}h": round(sum(mm for t, mm in self.recent if t > end - h * 3600), 1)
            for h in _WINDOWS_H
        }

    def anomaly(self, month: int, min_days: int = 10) -> float | None:
        """z-score of the last 24 h against past daily totals of ``month`` (None until known)."""
        stats = self.monthly.get(month)
        if not stats or stats[0] < min_days:
            return None
        std = math.sqrt(stats[2] / (stats[0] - 1)) if stats[0] > 1 else 0.0
        return round((self.accumulations()["24h"] - stats[1]) / max(std, 1.0), 2)
