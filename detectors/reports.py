"""Citizen reports to incidents: a prospective space-time scan per category group, with dedup.

For each group (flood, fire, traffic, ...) the bank keeps what is usual: where reports of that
group fall (decayed grids of past reports smoothed at a narrow and a wide bandwidth, blended with
a uniform prior over the city's area; a report is learned only once it has left the scan
windows, so a cluster never hides itself). When a report arrives, the bank scans cylinders that
end now and contain it (circles of a few radii around it and its recent neighbours x a few time
windows) and asks, as Kulldorff's space-time permutation scan does (SaTScan, run by health
departments on 311 and syndromic data), how many of the group's reports in that window the
circle should hold given the city-wide count in the same window: that conditioning absorbs the
time of week, holidays and city-wide surges without a calendar model. The count of the
cylinder's other reports is tested against a Poisson law of that mean; an incident opens when
the p-value is below the level that keeps false clusters to one per ``recurrence_days`` per
group, by a union bound over all cylinders actually tested (the tests-per-day rate is learned
online). Counts are of distinct reporters (pseudonyms; a report without one counts alone).
``min_count`` is a floor.

Later reports near an open cluster (``attach_radius_m``, within ``quiet_min`` of its last report)
attach to it as evidence instead of opening new incidents; a cluster quiet for ``quiet_min``
clears. A single report of a grave category (``single_report_categories``) opens a ``Possible``
incident at once, so a fire is routed on the first call; it becomes ``Likely`` when the scan
finds its cluster significant.

>>> from datetime import datetime, timedelta, timezone
>>> from kendali.city import load_city
>>> from kendali.records import Complaint
>>> from kendali.settings import Settings
>>> bank = ReportBank(load_city(Settings().city))
>>> t0 = datetime(2026, 11, 27, 8, 0, tzinfo=timezone(timedelta(hours=8)))
>>> calls = [Complaint(f"c{i}", "112", t0 + timedelta(minutes=2 * i), "banjir",
...                    lat=-1.2735 + 0.0003 * i, lon=116.8365) for i in range(5)]
>>> [(s.state, s.category, s.details["count"]) for s in bank.process(calls)]
[('open', 'flood', 4), ('update', 'flood', 5)]
>>> [s.state for s in bank.tick(t0 + timedelta(hours=3))]
['clear']
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

import numpy as np
from scipy.special import gammainc

from detectors.categories import category_group, classify, report_key
from geo.hull import buffered_hull
from geo.locate import Located, locate
from kendali.city import City
from kendali.records import CAP_SEVERITY, Complaint, Signal

__all__ = ["ReportBank", "ReportParams", "locate", "report_key"]


@dataclass(frozen=True, slots=True)
class ReportParams:
    """Tuning of the report clusterer; the defaults suit a city of a few hundred km²."""

    radii_m: tuple[float, ...] = (100.0, 200.0, 300.0, 500.0)
    windows_min: tuple[float, ...] = (10.0, 30.0, 60.0, 120.0)
    min_count: int = 3
    recurrence_days: float = 30.0
    smoothing_m: tuple[float, ...] = (400.0, 1500.0)
    prior_reports: float = 20.0
    half_life_days: float = 28.0
    prior_tests_per_day: float = 5000.0
    warmup_reports: int = 300
    warmup_decades: float = 4.0
    attach_radius_m: float = 500.0
    quiet_min: float = 60.0
    hull_buffer_m: float = 50.0
    observed_count: int = 10
    single_report_categories: tuple[str, ...] = ("fire", "health_emergency", "traffic_accident")


#: Base CAP severity per category; a cluster climbs one step at 10 and at 30 reports.
_SEVERITY = {
    "fire": "Severe",
    "health_emergency": "Severe",
    "landslide": "Severe",
    "traffic_accident": "Moderate",
    "flood": "Moderate",
    "crime": "Moderate",
    "family_help": "Moderate",
    "fallen_tree": "Moderate",
}
_URGENCY_EXPECTED = ("infrastructure", "other", "public_order")


@dataclass(slots=True)
class _Report:
    id: str
    ts: datetime
    x: float
    y: float
    category: str
    loc: Located
    who: str


@dataclass(slots=True)
class _Cluster:
    cid: str
    reports: list[_Report]
    city_count: int = 0
    certainty: str = "Likely"
    p_value: float = 1.0
    expected: float = 0.0
    new: list[str] = field(default_factory=list)

    @property
    def last_ts(self) -> datetime:
        return self.reports[-1].ts

    def centre(self) -> tuple[float, float]:
        return (
            float(np.mean([r.x for r in self.reports])),
            float(np.mean([r.y for r in self.reports])),
        )


class _Plane:
    """Local metric plane around the city centre (equirectangular, metres)."""

    def __init__(self, lon0: float, lat0: float):
        self.lon0, self.lat0 = lon0, lat0
        self.ky = math.radians(1) * 6_371_008.8
        self.kx = self.ky * math.cos(math.radians(lat0))

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        return self.lon0 + x / self.kx, self.lat0 + y / self.ky


#: Offsets of the grid cells (a third of the bandwidth wide) that make up a disc of the bandwidth.
_DISC = tuple((i, j) for i in range(-3, 4) for j in range(-3, 4) if math.hypot(i, j) <= 3)


def _time_of_week(ts: datetime, tz: tzinfo) -> int:
    """One of 12 bins: weekday / Saturday / Sunday x four 6-hour parts of the local day."""
    local = ts.astimezone(tz)
    day = max(local.weekday() - 4, 0)  # Mon-Fri 0, Sat 1, Sun 2
    return day * 4 + local.hour // 6


class _Baseline:
    """Where a group's reports usually fall: forward-decayed counts on grids, plus a prior.

    Each smoothing bandwidth has its own grid (cells a third of it); a place's density is the
    largest of the bandwidths' estimates, so a narrow hot spot is not diluted by a wide average.
    Counts are also kept per time of week (:func:`_time_of_week`), shrunk towards the all-week
    density, and the larger of the two is used: the Saturday-night street is usual on Saturday
    night, and a place busy at other times keeps its all-week level.
    """

    def __init__(self, params: ReportParams, area_m2: float, tz: tzinfo):
        self.p = params
        self.area_m2 = area_m2
        self.tz = tz
        self.tau_s = params.half_life_days * 86400 / math.log(2)
        self.grids: list[dict[tuple[int, ...], float]] = [{} for _ in params.smoothing_m]
        self.total = 0.0
        self.week_totals = [0.0] * 12
        self.t_ref: datetime | None = None

    def _weight(self, ts: datetime) -> float:
        if self.t_ref is None:
            self.t_ref = ts
        age = (ts - self.t_ref).total_seconds() / self.tau_s
        if age > 30:  # renormalise before exp() overflows
            k = math.exp(-age)
            self.grids = [{c: v * k for c, v in g.items() if v * k > 1e-9} for g in self.grids]
            self.total *= k
            self.week_totals = [v * k for v in self.week_totals]
            self.t_ref, age = ts, 0.0
        return math.exp(age)

    def learn(self, x: float, y: float, ts: datetime) -> None:
        w, tow = self._weight(ts), _time_of_week(ts, self.tz)
        for grid, b in zip(self.grids, self.p.smoothing_m, strict=True):
            i, j = math.floor(3 * x / b), math.floor(3 * y / b)
            grid[(i, j)] = grid.get((i, j), 0.0) + w
            grid[(tow, i, j)] = grid.get((tow, i, j), 0.0) + w
        self.total += w
        self.week_totals[tow] += w

    def _near(self, x: float, y: float, tow: int | None) -> float:
        """Largest decayed count per m² over the bandwidths (all week, or one time of week)."""
        best = 0.0
        for grid, b in zip(self.grids, self.p.smoothing_m, strict=True):
            i, j = math.floor(3 * x / b), math.floor(3 * y / b)
            keys = [(i + di, j + dj) for di, dj in _DISC]
            count = sum(grid.get(k if tow is None else (tow, *k), 0.0) for k in keys)
            best = max(best, count / (math.pi * b * b))
        return best

    def share_per_m2(self, x: float, y: float, ts: datetime) -> float:
        """Expected share of the group's reports per m² around (x, y) at this time of week."""
        prior = self.p.prior_reports * self._weight(ts)
        week = (self._near(x, y, None) + prior / self.area_m2) / (self.total + prior)
        tow = _time_of_week(ts, self.tz)
        now = (self._near(x, y, tow) + prior * week) / (self.week_totals[tow] + prior)
        return max(week, now)


def _reporters(reports: list[_Report]) -> int:
    """Distinct reporters: one person calling five times is one witness, not five."""
    return len({r.who for r in reports})


def _p_at_least(n: int, mu: float) -> float:
    """P(N >= n) for N ~ Poisson(mu), accurate in the far tail."""
    if n <= 0:
        return 1.0
    return float(gammainc(n, max(mu, 1e-300)))


class _Group:
    """State of one category group: baseline, recent unclustered reports, open clusters."""

    def __init__(self, name: str, params: ReportParams, area_m2: float, tz: tzinfo):
        self.name = name
        self.p = params
        self.baseline = _Baseline(params, area_m2, tz)
        self.recent: list[float] = []  # POSIX times of the group's recent reports, sorted
        self.pending: list[_Report] = []
        self.unlearned: deque[_Report] = deque()
        self.clusters: list[_Cluster] = []
        self.first_ts: datetime | None = None
        self.tests = 0
        self.learned = 0

    def threshold(self, now: datetime) -> float:
        """Per-cylinder p-value that allows one false cluster per ``recurrence_days``; a cold
        baseline (fewer than ``warmup_reports`` learned) demands up to ``warmup_decades`` orders
        of magnitude more, since it cannot yet know the hot spots."""
        cold = max(0.0, 1.0 - self.learned / self.p.warmup_reports) * self.p.warmup_decades
        return 10.0**-cold / (self.p.recurrence_days * self.tests_per_day(now))

    def tests_per_day(self, now: datetime) -> float:
        days = (now - (self.first_ts or now)).total_seconds() / 86400
        return (self.tests + self.p.prior_tests_per_day) / (days + 1.0)

    def forget(self, now: datetime) -> None:
        horizon = now - timedelta(minutes=max(self.p.windows_min))
        del self.recent[: bisect.bisect_left(self.recent, horizon.timestamp())]
        while self.unlearned and self.unlearned[0].ts < horizon:
            old = self.unlearned.popleft()
            self.baseline.learn(old.x, old.y, old.ts)
            self.learned += 1
        self.pending = [r for r in self.pending if r.ts >= horizon]

    def city_count(self, since: datetime) -> int:
        return len(self.recent) - bisect.bisect_left(self.recent, since.timestamp())

    def scan(self, rep: _Report) -> tuple[float, list[_Report], float, int] | None:
        """Most significant cylinder holding ``rep``: (p, members, mu, city count in window)."""
        reach = max(self.p.radii_m)
        pool = [r for r in self.pending if math.hypot(r.x - rep.x, r.y - rep.y) <= 2 * reach]
        pool.append(rep)
        xs, ys = np.array([r.x for r in pool]), np.array([r.y for r in pool])
        ts = np.array([r.ts.timestamp() for r in pool])
        codes = np.unique([r.who for r in pool], return_inverse=True)[1]
        repeats = len(set(codes.tolist())) < len(pool)
        windows = [(w, rep.ts.timestamp() - 60 * w) for w in self.p.windows_min]
        counts = {w: self.city_count(rep.ts - timedelta(minutes=w)) for w in self.p.windows_min}
        best = None
        for c in np.flatnonzero(np.hypot(xs - rep.x, ys - rep.y) <= reach):
            d = np.hypot(xs - xs[c], ys - ys[c])
            density = self.baseline.share_per_m2(float(xs[c]), float(ys[c]), rep.ts)
            for r in self.p.radii_m:
                if d[-1] > r:
                    continue
                for w, since in windows:
                    self.tests += 1
                    inside = (d <= r) & (ts >= since)
                    n = len(np.unique(codes[inside])) if repeats else int(inside.sum())
                    if n < self.p.min_count:
                        continue
                    mu = max(counts[w] - 1, 0) * min(1.0, density * math.pi * r * r)
                    p = _p_at_least(n - 1, mu)
                    if best is None or p < best[0]:
                        best = (p, inside, mu, counts[w])
        if best is None:
            return None
        return best[0], [pool[i] for i in np.flatnonzero(best[1])], best[2], best[3]

    def rescore(self, cl: _Cluster, now: datetime) -> None:
        """Significance of a cluster as it stands: its count against its area and duration."""
        cx, cy = cl.centre()
        radius = max([math.hypot(r.x - cx, r.y - cy) for r in cl.reports] + [min(self.p.radii_m)])
        share = min(1.0, self.baseline.share_per_m2(cx, cy, now) * math.pi * radius**2)
        cl.expected = max(cl.city_count - 1, 0) * share
        n = _reporters(cl.reports)
        cl.p_value = _p_at_least(n - 1, cl.expected)
        if cl.p_value < self.threshold(now) and n >= self.p.min_count:
            observed = n >= self.p.observed_count
            cl.certainty = "Observed" if observed else "Likely"


def _cluster_id(group: str, first_id: str) -> str:
    return hashlib.sha1(f"{group}|{first_id}".encode()).hexdigest()[:12]


def _area_m2(city: City, plane: _Plane) -> float:
    """Area the uniform prior spreads over: the zones when there are any, else the bbox."""
    if city.zones:
        lat = city.center[1]
        deg2 = sum(z.geometry.area for z in city.zones)
        return deg2 * plane.ky**2 * math.cos(math.radians(lat))
    w, s, e, n = city.bbox
    x0, y0 = plane.xy(w, s)
    x1, y1 = plane.xy(e, n)
    return max(abs(x1 - x0) * abs(y1 - y0), 1e6)


class ReportBank:
    """Detector bank for citizen reports (see the module docstring for the method)."""

    def __init__(self, city: City, params: ReportParams | None = None):
        self.city = city
        self.params = params or ReportParams()
        self.plane = _Plane(*city.center)
        self.area_m2 = _area_m2(city, self.plane)
        self.groups: dict[str, _Group] = {}
        #: Reports the bank could not place (the dataflow dead-letters these before, with
        #: :func:`geo.locate.locate`); counted so that none vanishes unseen.
        self.unlocated = 0

    def adopt(self, city: City) -> list[Signal]:
        """Take the city's current configuration (zones, places, routing) after a restart from
        a snapshot taken under an older one; returns no signals.

        Clusters held stay, in the plane they were measured in, and are described with the
        new configuration from their next report (zone, agencies, nearby places).
        """
        self.city = city
        self.area_m2 = _area_m2(city, self.plane)
        return []

    def process(self, reports: Sequence[Complaint]) -> list[Signal]:
        out: list[Signal] = []
        for complaint in reports:
            out.extend(self._one(complaint))
        return out

    def tick(self, now: datetime) -> list[Signal]:
        out: list[Signal] = []
        for group in self.groups.values():
            out.extend(self._expire(group, now))
        return out

    def _one(self, complaint: Complaint) -> list[Signal]:
        loc = locate(complaint, self.city)
        if isinstance(loc, str):
            self.unlocated += 1
            return []
        category = classify(complaint)
        name = category_group(category)
        group = self.groups.get(name) or self.groups.setdefault(
            name, _Group(name, self.params, self.area_m2, self.city.tz)
        )
        x, y = self.plane.xy(loc.lon, loc.lat)
        who = complaint.reporter or complaint.id
        rep = _Report(complaint.id, complaint.ts, x, y, category, loc, who)
        out = self._expire(group, rep.ts)
        group.first_ts = group.first_ts or rep.ts
        group.forget(rep.ts)
        bisect.insort(group.recent, rep.ts.timestamp())
        for cl in group.clusters:
            cl.city_count += 1
        out.extend(self._place(group, rep))
        group.unlearned.append(rep)
        return out

    def _place(self, group: _Group, rep: _Report) -> list[Signal]:
        cl = self._nearest_open(group, rep)
        if cl is not None:
            cl.reports.append(rep)
            cl.new = [rep.id]
            group.rescore(cl, rep.ts)
            return [self._signal(group, cl, "update", rep.ts)]
        found = group.scan(rep)
        if found is not None and found[0] < group.threshold(rep.ts):
            p, members, mu, count = found
            cl = _Cluster(_cluster_id(group.name, members[0].id), members, count, "Likely", p, mu)
        elif rep.category in self.params.single_report_categories:
            cl = _Cluster(_cluster_id(group.name, rep.id), [rep], 1, "Possible")
        else:
            group.pending.append(rep)
            return []
        taken = {id(r) for r in cl.reports}
        group.pending = [r for r in group.pending if id(r) not in taken]
        group.clusters.append(cl)
        group.rescore(cl, rep.ts)
        cl.new = [r.id for r in cl.reports]
        return [self._signal(group, cl, "open", rep.ts)]

    def _nearest_open(self, group: _Group, rep: _Report) -> _Cluster | None:
        best, best_d = None, self.params.attach_radius_m
        for cl in group.clusters:
            cx, cy = cl.centre()
            d = math.hypot(rep.x - cx, rep.y - cy)
            if d <= best_d:
                best, best_d = cl, d
        return best

    def _expire(self, group: _Group, now: datetime) -> list[Signal]:
        quiet = timedelta(minutes=self.params.quiet_min)
        done = [cl for cl in group.clusters if now - cl.last_ts > quiet]
        group.clusters = [cl for cl in group.clusters if now - cl.last_ts <= quiet]
        out = []
        for cl in done:
            cl.new = []
            out.append(self._signal(group, cl, "clear", now))
        return out

    def _signal(self, group: _Group, cl: _Cluster, state: str, ts: datetime) -> Signal:
        cx, cy = cl.centre()
        lon, lat = self.plane.lonlat(cx, cy)
        radius = max(math.hypot(r.x - cx, r.y - cy) for r in cl.reports)
        category = Counter(r.category for r in cl.reports).most_common(1)[0][0]
        zone = self.city.zone_of(lon, lat)
        points = [(r.loc.lon, r.loc.lat) for r in cl.reports]
        threshold = group.threshold(ts)
        score = min(1.0, 0.7 * math.log(max(cl.p_value, 1e-300)) / math.log(threshold))
        details = {
            "count": len(cl.reports),
            "reporters": _reporters(cl.reports),
            "radius_m": round(radius),
            "duration_min": round((cl.last_ts - cl.reports[0].ts).total_seconds() / 60, 1),
            "expected": cl.expected,
            "p_value": cl.p_value,
            "threshold": threshold,
            "recurrence_days": 1.0 / max(cl.p_value * group.tests_per_day(ts), 1e-12),
            "first": cl.reports[0].ts.isoformat(),
            "group": group.name,
            "new_reports": list(cl.new),
        }
        return Signal(
            source="reports",
            kind="incident",
            category=category,
            key=f"reports:{group.name}:{cl.cid}",
            episode=cl.cid,
            state=state,
            ts=ts,
            lat=round(lat, 6),
            lon=round(lon, 6),
            score=round(score if cl.certainty != "Possible" else min(score, 0.3), 4),
            severity=_severity(category, len(cl.reports)),
            explanation=self._explain(cl, category, radius, zone, lon, lat),
            zone=zone,
            evidence=tuple(f"report:{r.id}" for r in cl.reports),
            area=buffered_hull(points, self.params.hull_buffer_m) if len(points) >= 3 else None,
            urgency="Expected" if category in _URGENCY_EXPECTED else "Immediate",
            certainty=cl.certainty,
            agencies=self.city.agencies_for(category, zone),
            details=details,
        )

    def _explain(
        self, cl: _Cluster, category: str, radius: float, zone: str | None, lon: float, lat: float
    ) -> str:
        n = len(cl.reports)
        first, last = cl.reports[0].ts, cl.last_ts
        minutes = (last - first).total_seconds() / 60
        where = self._landmark(lon, lat) or f"{lat:.4f}, {lon:.4f}"
        if zone:
            where += f" ({zone})"
        hours = max(minutes, min(self.params.windows_min)) / 60
        local = first.astimezone(self.city.tz).strftime("%H:%M")
        what = "report" if n == 1 else "reports"
        return (
            f"{n} {what} of {category.replace('_', ' ')} within {radius:.0f} m in {minutes:.0f} min"
            f" around {where}; usual here: {cl.expected / hours:.2g} per hour; first {local}"
        )

    def _landmark(self, lon: float, lat: float, within_m: float = 1500.0) -> str | None:
        """Name of the nearest known place within ``within_m``, as callers would say it."""
        best, best_d = None, within_m
        x, y = self.plane.xy(lon, lat)
        for name, (plon, plat) in self.city.places.items():
            px, py = self.plane.xy(plon, plat)
            d = math.hypot(px - x, py - y)
            if d < best_d:
                best, best_d = name, d
        return best.title() if best else None


def _severity(category: str, count: int) -> str:
    """CAP severity: the category's base, one step up at 10 and again at 30 reports."""
    base = CAP_SEVERITY.index(_SEVERITY.get(category, "Minor"))
    steps = (count >= 10) + (count >= 30)
    return CAP_SEVERITY[min(base + steps, len(CAP_SEVERITY) - 1)]
