"""Simulated ATCS detector readings: a day-and-week demand shape through a fundamental diagram.

Demand (vehicles/hour) follows the local clock: a night minimum, a morning peak around
07:00-08:00, a daytime plateau, an evening peak around 16:30-18:00, a Friday-prayer dip near
12:00 on Fridays, and lighter, later weekends. Each detector scales it by its capacity and its
own share of peak-direction traffic. Greenshields' fundamental diagram turns flow into speed and
density (hence occupancy): speed falls and occupancy rises as flow nears capacity. A crash is a
bottleneck: a queue grows upstream at the shock-wave speed, detectors inside it read congested
(high occupancy, crawling speed), the detector past it reads a volume drop.

>>> fd_speed(np.array([0.0, 900.0, 1800.0]), np.array([1800.0] * 3), np.array([50.0] * 3)).round(1)
array([50. , 42.7, 25. ])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from geo.distance import haversine_m
from kendali.city import Detector
from kendali.records import TrafficReading
from sources.sim_faults import FaultBook
from sources.sim_scenario import IncidentSpec

__all__ = ["Crash", "TrafficModel", "day_shape", "fd_speed"]

#: Effective vehicle-plus-loop length (km): occupancy % = density (veh/km) x 100 x this.
_OCC_LEN_KM = 0.006
_JAM_FLOOR_KMH = 2.0
_MAX_QUEUE_KM = 3.0


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((hour - centre) / width) ** 2)


def day_shape(hour: float, weekday: int) -> tuple[float, float, float]:
    """(base, morning-peak, evening-peak) demand shares for a local hour and ISO weekday-1.

    >>> [round(x, 2) for x in day_shape(7.5, 0)]
    [0.49, 0.42, 0.0]
    >>> day_shape(12.25, 4)[0] < day_shape(12.25, 3)[0]   # Friday prayer dip
    True
    """
    awake = 1 / (1 + math.exp(-(hour - 5.6) * 2.2)) - 1 / (1 + math.exp(-(hour - 21.8) * 1.6))
    base = 0.08 + 0.42 * awake
    am, pm = 0.42 * _bump(hour, 7.5, 0.7), 0.38 * _bump(hour, 17.25, 0.85)
    if weekday == 4:
        base -= 0.22 * _bump(hour, 12.25, 0.35)
    if weekday >= 5:
        leisure = 0.12 * _bump(hour, 19.5, 1.5) + 0.08 * _bump(hour, 11.0, 2.0)
        factor = 0.45 if weekday == 5 else 0.25
        base, am, pm = base * 0.9 + leisure, am * factor, pm * factor * 1.4
    return base, am, pm


def fd_speed(flow: np.ndarray, capacity: np.ndarray, vfree: np.ndarray, *, congested=False):
    """Greenshields speed (km/h) for a flow (veh/h) on the free or the congested branch."""
    x = np.minimum(flow / capacity, 1.0)
    root = np.sqrt(1.0 - x)
    speed = vfree * (1 - root) / 2 if congested else vfree * (1 + root) / 2
    return np.maximum(speed, _JAM_FLOOR_KMH)


@dataclass
class Crash:
    """A bottleneck just past ``chain[0]``; ``chain`` lists (detector index, metres upstream)."""

    spec: IncidentSpec
    start: datetime
    end: datetime
    chain: list[tuple[int, float]]
    downstream: int | None
    queue_km: float = 0.0
    reached: list[int] = field(default_factory=list)

    def active(self, ts: datetime) -> bool:
        return self.start <= ts and (ts < self.end or self.queue_km > 0)


class TrafficModel:
    """Readings of all detectors, one interval at a time; call :meth:`step` in time order."""

    def __init__(
        self,
        detectors: list[Detector],
        tz,
        seed: int,
        interval_s: int,
        missing_rate: float,
        faults: FaultBook,
    ) -> None:
        self.detectors, self.tz, self.seed = detectors, tz, seed
        self.interval_s, self.missing_rate = interval_s, missing_rate
        self.index = {d.id: i for i, d in enumerate(detectors)}
        rng = np.random.default_rng([seed, 11])
        n = len(detectors)
        self.capacity = np.array([d.capacity_vph for d in detectors])
        self.vfree = np.array([d.speed_limit_kmh for d in detectors]) * 0.92
        self.scale = rng.uniform(0.65, 1.0, n) * self.capacity
        self.am_share, self.pm_share = rng.uniform(0.5, 1.25, n), rng.uniform(0.5, 1.25, n)
        self.crashes: list[Crash] = []
        self.faults = faults

    def add_crash(self, spec: IncidentSpec, start: datetime) -> Crash:
        """Plan a crash; the queue spreads up the detector's upstream links."""
        first = self.detectors[self.index[spec.detector]]
        chain, metres, det = [(self.index[first.id], 80.0)], 80.0, first
        while det.upstream and len(chain) < 4:
            up = self.detectors[self.index[det.upstream]]
            metres += haversine_m(det.lon, det.lat, up.lon, up.lat)
            chain.append((self.index[up.id], metres))
            det = up
        down = self.index[first.downstream] if first.downstream else None
        crash = Crash(spec, start, start + timedelta(minutes=spec.duration_min), chain, down)
        self.crashes.append(crash)
        return crash

    def demand(self, ts: datetime) -> np.ndarray:
        """Expected flow (veh/h) per detector for the interval ending at ``ts``."""
        local = (ts - timedelta(seconds=self.interval_s / 2)).astimezone(self.tz)
        hour = local.hour + local.minute / 60 + local.second / 3600
        base, am, pm = day_shape(hour, local.weekday())
        day = np.random.default_rng([self.seed, 12, local.toordinal()])
        daily = day.normal(1.0, 0.04, len(self.detectors))
        return self.scale * daily * (base + am * self.am_share + pm * self.pm_share)

    def _apply_crashes(self, ts: datetime, flow: np.ndarray) -> np.ndarray:
        """Advance each crash queue; returns a mask of detectors reading congested."""
        congested = np.zeros(len(flow), dtype=bool)
        hours = self.interval_s / 3600
        for crash in self.crashes:
            if not crash.active(ts):
                continue
            head = crash.chain[0][0]
            cap = self.capacity[head]
            out = cap * crash.spec.residual_capacity if ts < crash.end else cap
            q_in = flow[head]
            k_in = q_in / fd_speed(q_in, cap, self.vfree[head])
            k_q = out / fd_speed(out, cap, self.vfree[head], congested=True)
            grow = (q_in - out) / max(k_q - k_in, 1.0) * hours
            crash.queue_km = float(np.clip(crash.queue_km + grow, 0.0, _MAX_QUEUE_KM))
            for idx, metres in crash.chain:
                if crash.queue_km * 1000 >= metres:
                    if idx not in crash.reached:
                        crash.reached.append(idx)
                    congested[idx] = True
                    flow[idx] = min(flow[idx], out)
            if crash.downstream is not None:
                flow[crash.downstream] = min(flow[crash.downstream], out)
        return congested

    def step(self, k: int, ts: datetime) -> list[TrafficReading]:
        """Readings of absolute interval ``k`` (ending at ``ts``), with noise and gaps."""
        flow = np.minimum(self.demand(ts), self.capacity)
        congested = self._apply_crashes(ts, flow)
        speed = np.where(
            congested,
            fd_speed(flow, self.capacity, self.vfree, congested=True),
            fd_speed(flow, self.capacity, self.vfree),
        )
        rng = np.random.default_rng([self.seed, 13, k])
        volume = rng.poisson(flow * self.interval_s / 3600)
        occ = flow / speed * _OCC_LEN_KM * 100 * rng.normal(1.0, 0.07, len(flow))
        speed = np.maximum(speed * rng.normal(1.0, 0.05, len(flow)), 1.0)
        keep = rng.random(len(flow)) >= self.missing_rate
        occ, speed = np.clip(occ, 0, 100).round(1), speed.round(1)
        rows = (volume.tolist(), occ.tolist(), speed.tolist(), keep.tolist())
        readings = []
        for det, v, o, s, ok in zip(self.detectors, *rows, strict=True):
            held = self.faults.hold(det.id, ts, (float(v), o, s)) if ok else None
            if held is not None:
                readings.append(
                    TrafficReading(
                        det.id, det.intersection, det.approach, ts, self.interval_s, *held
                    )
                )
        return readings
