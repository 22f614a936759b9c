"""Fusion: signals from different streams that describe one event become one incident.

A new signal joins an existing incident when three things hold, the way real-time crime centres
correlate calls: the categories are compatible (they share a *group* of the city's fusion
rules: a flood group holds ``flood``, ``congestion``, ``traffic_incident`` ...), the signal is
close in space (within the category's radius of a member's point, or touching a member's area:
a gauge's flood-area polygon, a report cluster's hull) and close in time (within the category's
window of the incident's last activity, or the incident is still ongoing). The incident takes
the category that leads its group (flood before congestion), the agencies of every member
category, and corroboration by independent sources raises its certainty and severity.

>>> from datetime import datetime, timezone
>>> from kendali.records import Signal
>>> t = datetime(2026, 11, 27, 0, 5, tzinfo=timezone.utc)
>>> gauge = Signal("hydromet", "incident", "flood", "gauge:G1", "g1", "open", t, -1.247,
...                116.869, 0.8, "Severe", "river at Siaga 2", certainty="Likely")
>>> jam = Signal("traffic", "incident", "congestion", "atcs:D1", "d1", "open", t, -1.249,
...              116.870, 0.7, "Moderate", "queue on MT Haryono")
>>> rules = FusionRules(groups=(frozenset({"flood", "congestion"}),), precedence=("flood",))
>>> rules.compatible("congestion", "flood"), round(distance_m(jam, gauge))
(True, 249)
>>> f = fuse([gauge, jam], rules, lambda c: {"flood": ("bpbd",), "congestion": ("dishub",)}[c])
>>> f.category, f.certainty, f.agencies, f.sources
('flood', 'Observed', ('bpbd', 'dishub'), ('hydromet', 'traffic'))
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from shapely.geometry import Point, Polygon

from geo.distance import EARTH_RADIUS_M, haversine_m
from kendali.records import CAP_CERTAINTY, CAP_SEVERITY, CAP_URGENCY, Signal

__all__ = [
    "CategoryRule",
    "Fused",
    "FusionRules",
    "distance_m",
    "fuse",
    "load_fusion_rules",
    "raise_by",
]

_M_PER_DEG = math.pi * EARTH_RADIUS_M / 180


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """How far in time and space a signal of one category may be from an incident it joins."""

    window: timedelta = timedelta(minutes=30)
    radius_m: float = 500.0


@dataclass(frozen=True)
class FusionRules:
    """A city's fusion rules (``fusion.toml``): per-category window and radius, the groups of
    categories that may fuse, the precedence that names a fused incident (the first category
    present leads), and how many independent sources it takes to raise certainty (one step per
    source beyond the first) and severity (one step at ``severity_sources``)."""

    default: CategoryRule = CategoryRule()
    categories: dict[str, CategoryRule] = field(default_factory=dict)
    groups: tuple[frozenset[str], ...] = ()
    precedence: tuple[str, ...] = ()
    severity_sources: int = 3

    def rule(self, category: str) -> CategoryRule:
        return self.categories.get(category, self.default)

    def compatible(self, a: str, b: str) -> bool:
        """Whether signals of categories ``a`` and ``b`` may describe one event."""
        return a == b or any(a in g and b in g for g in self.groups)

    def window(self, a: str, b: str) -> timedelta:
        return max(self.rule(a).window, self.rule(b).window)

    def radius_m(self, a: str, b: str) -> float:
        return max(self.rule(a).radius_m, self.rule(b).radius_m)

    def rank(self, category: str) -> int:
        """Rank of a category as an incident's lead (lower leads); unlisted ones rank last."""
        return self.precedence.index(category) if category in self.precedence else 1_000


def _rule(table: dict, where: str, base: CategoryRule) -> CategoryRule:
    window, radius = table.get("window_min"), table.get("radius_m")
    for name, value in (("window_min", window), ("radius_m", radius)):
        if value is not None and not (isinstance(value, int | float) and value > 0):
            raise ValueError(f"{where}: {name} must be a positive number, got {value!r}")
    return CategoryRule(
        timedelta(minutes=window) if window is not None else base.window,
        float(radius) if radius is not None else base.radius_m,
    )


def load_fusion_rules(path: Path | None) -> FusionRules:
    """The ``[fusion]`` tables of a city's ``fusion.toml``; same-category fusion only when absent.

    >>> from kendali.settings import Settings
    >>> rules = load_fusion_rules(Path(Settings().city) / "fusion.toml")
    >>> rules.compatible("flood", "congestion"), rules.compatible("fire", "flood")
    (True, False)
    """
    if path is None or not Path(path).exists():
        return FusionRules()
    conf = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("fusion", {})
    default = _rule(conf.get("default", {}), f"{path} [fusion.default]", CategoryRule())
    categories = {
        name: _rule(table, f"{path} [fusion.categories.{name}]", default)
        for name, table in conf.get("categories", {}).items()
    }
    groups = tuple(conf.get("groups", {}).values())
    for group in (*groups, conf.get("precedence", [])):
        if not isinstance(group, list) or not all(isinstance(c, str) for c in group):
            raise ValueError(f"{path}: [fusion] groups and precedence must be lists of categories")
    return FusionRules(
        default,
        categories,
        tuple(frozenset(g) for g in groups),
        tuple(conf.get("precedence", ())),
        int(conf.get("severity_sources", 3)),
    )


def _local_m(ring: Iterable[tuple[float, float]], lat0: float) -> list[tuple[float, float]]:
    k = math.cos(math.radians(lat0)) * _M_PER_DEG
    return [(lon * k, lat * _M_PER_DEG) for lon, lat in ring]


def distance_m(a: Signal, b: Signal) -> float:
    """Metres between what two signals describe: 0 when a point lies in the other's area or the
    areas overlap, else the shortest distance between points and areas (local projection)."""
    if a.area is None and b.area is None:
        return haversine_m(a.lon, a.lat, b.lon, b.lat)
    lat0 = a.lat
    shapes = []
    for s in (a, b):
        if s.area is not None and len(s.area) >= 3:
            shapes.append(Polygon(_local_m(s.area, lat0)).buffer(0))
        else:
            shapes.append(Point(_local_m([(s.lon, s.lat)], lat0)[0]))
    return float(shapes[0].distance(shapes[1]))


def raise_by(scale: tuple[str, ...], value: str, steps: int) -> str:
    """``value`` moved ``steps`` up its CAP scale, capped at the top.

    >>> raise_by(CAP_CERTAINTY, "Possible", 1), raise_by(CAP_SEVERITY, "Extreme", 2)
    ('Likely', 'Extreme')
    """
    index = scale.index(value) if value in scale else 0
    return scale[min(len(scale) - 1, index + max(0, steps))]


def _worst(scale: tuple[str, ...], values: Iterable[str]) -> str:
    return max(values, key=lambda v: scale.index(v) if v in scale else 0)


@dataclass(frozen=True, slots=True)
class Fused:
    """What the members of an incident say together (the incident's derived fields)."""

    category: str
    severity: str
    urgency: str
    certainty: str
    lat: float
    lon: float
    area: tuple[tuple[float, float], ...] | None
    agencies: tuple[str, ...]
    sources: tuple[str, ...]
    score: float
    explanation: str


def _explain(lead: Signal, members: list[Signal]) -> str:
    others = [m for m in members if m is not lead]
    if not others:
        return lead.explanation
    by_source: dict[str, set[str]] = {}
    for m in others:
        by_source.setdefault(m.source, set()).add(m.category.replace("_", " "))
    also = "; ".join(f"{src}: {', '.join(sorted(cats))}" for src, cats in sorted(by_source.items()))
    return f"{lead.explanation} [+{len(others)} related signal(s) — {also}]"


def fuse(
    members: list[Signal], rules: FusionRules, agencies_for: Callable[[str], tuple[str, ...]]
) -> Fused:
    """Combine the latest signal of every member episode into the incident's fields.

    The lead is the member whose category leads the group (then the highest score); its point
    and explanation stand for the incident. Clear signals count as evidence but never lower the
    severity reached while the event was active.
    """
    lead = min(members, key=lambda m: (rules.rank(m.category), -m.score, m.episode))
    sources = tuple(sorted({m.source for m in members}))
    certainty = raise_by(
        CAP_CERTAINTY, _worst(CAP_CERTAINTY, (m.certainty for m in members)), len(sources) - 1
    )
    severity = _worst(CAP_SEVERITY, (m.severity for m in members))
    if len(sources) >= rules.severity_sources:
        severity = raise_by(CAP_SEVERITY, severity, 1)
    ordered = sorted(members, key=lambda m: (rules.rank(m.category), m.category))
    agencies = tuple(
        dict.fromkeys(a for m in ordered for a in (m.agencies or agencies_for(m.category)))
    )
    areas = [m.area for m in members if m.area is not None]
    return Fused(
        category=lead.category,
        severity=severity,
        urgency=_worst(CAP_URGENCY, (m.urgency for m in members)),
        certainty=certainty,
        lat=lead.lat,
        lon=lead.lon,
        area=lead.area or (max(areas, key=len) if areas else None),
        agencies=agencies,
        sources=sources,
        score=max(m.score for m in members),
        explanation=_explain(lead, members),
    )
