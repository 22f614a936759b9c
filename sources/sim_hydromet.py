"""Simulated rain and river gauges: storms, a two-reservoir runoff model and routed river levels.

Storms are sine-shaped bursts of rain (mm/h) at rain gauges: background ones are Poisson-timed
per local day (mostly in the afternoon), scripted ones come from the scenario. Each river gauge
turns the rain of the gauges that feed it, plus its upstream gauge's outflow delayed by
``travel_min``, into outflow through two linear reservoirs (a lagged, smoothed response); its
level is a baseline plus outflow times a gain chosen so that a sustained 45 mm/h storm would
reach Siaga 1. The deterministic part is computed ahead of emission, so the flood episodes it
contains (level above Siaga 3) are known to the truth file before the readings go out.

>>> reservoir(0.0, 10.0, k_h=0.5, dt_h=0.5) == round(10.0 * 0.5 * (1 - math.exp(-1)), 12)
True
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from geo.distance import haversine_m
from kendali.city import Gauge
from kendali.records import HydrometReading
from sources.sim_faults import FaultBook

__all__ = ["FloodEpisode", "HydrometModel", "Storm", "reservoir"]

_R_REF_MM_H = 45.0
_WARM_UP = timedelta(days=1)
_K1_H, _K2_H = 0.35, 0.45
#: Upstream share in a gauge's gain: a routed flood wave arrives attenuated and spread out.
_UPSTREAM_WEIGHT = 0.6


def reservoir(storage: float, inflow: float, *, k_h: float, dt_h: float) -> float:
    """Storage of a linear reservoir after ``dt_h`` hours of constant inflow (exact solution)."""
    decay = math.exp(-dt_h / k_h)
    return round(storage * decay + inflow * k_h * (1 - decay), 12)


@dataclass(frozen=True, slots=True)
class Storm:
    """A burst of rain: ``factors`` scales the peak per rain gauge (0 = dry there)."""

    id: str
    start: datetime
    end: datetime
    peak_mm_h: float
    factors: tuple[float, ...]
    reports: int = 0

    def rate(self, ts: datetime) -> np.ndarray | None:
        if not self.start <= ts < self.end:
            return None
        phase = (ts - self.start) / (self.end - self.start)
        return self.peak_mm_h * math.sin(math.pi * phase) * np.array(self.factors)


@dataclass
class FloodEpisode:
    """A river gauge above Siaga 3: when, how high, and which storm (if scripted) caused it."""

    gauge: str
    start: datetime
    peak_cm: float
    end: datetime | None = None
    siaga2_at: datetime | None = None
    storm: Storm | None = None


@dataclass(frozen=True, slots=True)
class _Step:
    k: int
    ts: datetime
    rain_mm: np.ndarray
    level_cm: np.ndarray


class HydrometModel:
    """Rain and river gauges of a city; :meth:`compute_to` runs the physics ahead of emission."""

    def __init__(
        self,
        gauges: list[Gauge],
        tz,
        seed: int,
        interval_s: int,
        missing_rate: float,
        storms_per_day: float,
        faults: FaultBook,
    ) -> None:
        self.rain = [g for g in gauges if g.kind == "rain"]
        self.rivers = _upstream_first([g for g in gauges if g.kind == "river"])
        self.tz, self.seed, self.interval_s = tz, seed, interval_s
        self.missing_rate, self.storms_per_day, self.faults = missing_rate, storms_per_day, faults
        self.scripted: list[Storm] = []
        self.episodes: list[FloodEpisode] = []
        self._sources = [self._local_sources(g) for g in self.rivers]
        self._base = np.array([0.45 * g.siaga3_cm for g in self.rivers])
        equiv = self._equivalent_sources()
        self._gain = (np.array([g.siaga1_cm for g in self.rivers]) - self._base) / (
            _R_REF_MM_H * equiv
        )
        self._store = np.zeros((len(self.rivers), 2))
        longest = max([g.travel_min or 0.0 for g in self.rivers] + [0.0]) * 60 / interval_s
        self._outflow: deque[np.ndarray] = deque(maxlen=round(longest) + 2)
        self._open: dict[int, FloodEpisode] = {}
        self._ready: deque[_Step] = deque()
        self._next_k: int | None = None
        self._emit_from: datetime | None = None
        self._noise = np.zeros(len(self.rivers))
        self._days: dict[int, list[Storm]] = {}

    def _local_sources(self, river: Gauge) -> list[int]:
        feeding = [i for i, r in enumerate(self.rain) if river.id in r.feeds]
        if feeding or river.upstream or not self.rain:
            return feeding
        dist = [haversine_m(river.lon, river.lat, r.lon, r.lat) for r in self.rain]
        return [int(np.argmin(dist))]

    def _equivalent_sources(self) -> np.ndarray:
        ids = {g.id: i for i, g in enumerate(self.rivers)}
        equiv: list[float] = []
        for i, g in enumerate(self.rivers):
            up = equiv[ids[g.upstream]] if g.upstream in ids else 0.0
            equiv.append((1.0 if self._sources[i] else 0.0) + _UPSTREAM_WEIGHT * up or 1.0)
        return np.array(equiv)

    def add_storm(self, storm: Storm) -> None:
        self.scripted.append(storm)

    def storms_on(self, day: int) -> list[Storm]:
        """Background storms starting on a local calendar day (``date.toordinal()``)."""
        if day not in self._days:
            rng = np.random.default_rng([self.seed, 21, day])
            midnight = datetime.fromordinal(day).replace(tzinfo=self.tz)
            storms = []
            for n in range(rng.poisson(self.storms_per_day)):
                hour = rng.normal(16.0, 2.5) if rng.random() < 0.7 else rng.uniform(0, 24)
                start = midnight + timedelta(hours=float(np.clip(hour, 0, 23.5)))
                length = timedelta(minutes=float(rng.uniform(30, 150)))
                # convective bursts are short; long rains are light
                cap = 38.0 * min(1.0, 45.0 / (length.total_seconds() / 60))
                peak = float(min(rng.lognormal(math.log(9.0), 0.6), cap))
                factors = tuple(rng.uniform(0.2, 1.0, len(self.rain)).round(2).tolist())
                storms.append(Storm(f"bg-{day}-{n}", start, start + length, peak, factors))
            self._days[day] = storms
        return self._days[day]

    def _rain_rate(self, ts: datetime) -> tuple[np.ndarray, Storm | None]:
        day = ts.astimezone(self.tz).toordinal()
        rate, cause = np.zeros(len(self.rain)), None
        for storm in [*self.storms_on(day - 1), *self.storms_on(day)]:
            part = storm.rate(ts)
            rate += 0.0 if part is None else part
        for storm in self.scripted:
            part = storm.rate(ts)
            if part is not None:
                rate, cause = rate + part, storm
        return rate, cause

    def _advance(self, k: int) -> _Step:
        ts = datetime.fromtimestamp(k * self.interval_s, tz=self.tz)
        dt_h = self.interval_s / 3600
        rate, cause = self._rain_rate(ts - timedelta(seconds=self.interval_s / 2))
        ids = {g.id: i for i, g in enumerate(self.rivers)}
        outflow = np.zeros(len(self.rivers))
        for i, g in enumerate(self.rivers):
            inflow = float(rate[self._sources[i]].mean()) if self._sources[i] else 0.0
            if g.upstream in ids:
                lag = round((g.travel_min or 0) * 60 / self.interval_s)
                inflow += _UPSTREAM_WEIGHT * self._lagged(ids[g.upstream], lag, outflow)
            s1 = reservoir(self._store[i, 0], inflow, k_h=_K1_H, dt_h=dt_h)
            s2 = reservoir(self._store[i, 1], s1 / _K1_H, k_h=_K2_H, dt_h=dt_h)
            self._store[i] = (s1, s2)
            outflow[i] = s2 / _K2_H
        self._outflow.append(outflow)
        level = self._base + self._gain * outflow
        self._track_floods(ts, level, cause)
        return _Step(k, ts, rate * dt_h, level)

    def _lagged(self, idx: int, lag: int, current: np.ndarray) -> float:
        if lag == 0:
            return float(current[idx])
        if lag > len(self._outflow):
            return 0.0
        return float(self._outflow[-lag][idx])

    def _track_floods(self, ts: datetime, level: np.ndarray, cause: Storm | None) -> None:
        for i, g in enumerate(self.rivers):
            episode = self._open.get(i)
            if episode is None and level[i] >= g.siaga3_cm:
                episode = FloodEpisode(g.id, ts, float(level[i]), storm=cause)
                self._open[i] = episode
                self.episodes.append(episode)
            elif episode is not None and level[i] < g.siaga3_cm:
                episode.end = ts
                del self._open[i]
            if episode is not None:
                episode.peak_cm = max(episode.peak_cm, float(level[i]))
                episode.storm = episode.storm or cause or self._recent_cause(ts)
                if episode.siaga2_at is None and level[i] >= g.siaga2_cm:
                    episode.siaga2_at = ts

    def _recent_cause(self, ts: datetime) -> Storm | None:
        recent = [s for s in self.scripted if s.start <= ts <= s.end + timedelta(hours=6)]
        return recent[-1] if recent else None

    def compute_to(self, until: datetime, origin: datetime) -> None:
        """Run the deterministic model up to ``until``; readings are emitted from ``origin`` on.

        The first call starts the model a day before ``origin`` so that rivers are not dry and
        still at the first reading (a storm may be under way when the stream begins).
        """
        if self._next_k is None:
            self._emit_from = origin
            self._next_k = -(-int((origin - _WARM_UP).timestamp()) // self.interval_s)
        while self._next_k * self.interval_s <= until.timestamp():
            self._ready.append(self._advance(self._next_k))
            self._next_k += 1

    def emit(self, until: datetime) -> list[HydrometReading]:
        """Readings of every computed step up to ``until``, with gauge noise and gaps added."""
        out: list[HydrometReading] = []
        while self._ready and self._ready[0].ts <= until:
            step = self._ready.popleft()
            if step.ts >= self._emit_from:
                out.extend(self._readings(step))
        return out

    def _readings(self, step: _Step) -> list[HydrometReading]:
        rng = np.random.default_rng([self.seed, 22, step.k])
        self._noise = 0.9 * self._noise + rng.normal(0, 0.6, len(self.rivers))
        levels = np.round(step.level_cm + self._noise).tolist()
        rain = (np.round(step.rain_mm / 0.2) * 0.2).round(1).tolist()
        gaps = (rng.random(len(self.rivers) + len(self.rain)) < self.missing_rate).tolist()
        rows = [(g, "river", lv, None) for g, lv in zip(self.rivers, levels, strict=True)]
        rows += [(g, "rain", None, mm) for g, mm in zip(self.rain, rain, strict=True)]
        out = []
        for (gauge, kind, level, mm), gap in zip(rows, gaps, strict=True):
            held = None if gap else self.faults.hold(gauge.id, step.ts, (level, mm))
            if held is not None:
                out.append(HydrometReading(gauge.id, kind, step.ts, self.interval_s, *held))
        return out


def _upstream_first(rivers: list[Gauge]) -> list[Gauge]:
    """River gauges ordered so that every gauge comes after its upstream gauge."""
    ordered: list[Gauge] = []
    by_id = {g.id: g for g in rivers}

    def visit(g: Gauge) -> None:
        if g in ordered:
            return
        if g.upstream in by_id:
            visit(by_id[g.upstream])
        ordered.append(g)

    for g in rivers:
        visit(g)
    return ordered
