"""What the city simulator plays: stream settings and scripted incidents, storms and faults.

A scenario is configuration (``cities/<city>/scenario.toml``), not code. Times are minutes after
the simulator's ``start`` (the beginning of the live part); negative minutes place a labelled
incident in the backfill. Every table is optional: an empty scenario is a quiet city.

>>> s = parse_scenario({"incident": [{"id": "f1", "kind": "fire", "at_min": 10,
...                     "place": "Pasar Pandansari", "reports": 20}]})
>>> s.incidents[0].category, s.incidents[0].radius_m, s.streams.traffic_interval_s
('fire', 200.0, 300)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = [
    "FaultSpec",
    "IncidentSpec",
    "Scenario",
    "ScenarioError",
    "StormSpec",
    "StreamSpec",
    "load_scenario",
    "parse_scenario",
]

#: Incident kind -> report category, when the scenario does not name one.
KIND_CATEGORY = {
    "crash": "traffic_accident",
    "fire": "fire",
    "flood": "flood",
    "fallen_tree": "fallen_tree",
    "landslide": "landslide",
    "crime": "crime",
    "health_emergency": "health_emergency",
    "public_order": "public_order",
}


class ScenarioError(ValueError):
    """A scenario file is unreadable or names something the city does not have."""


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """Background behaviour of the streams (rates are averages; the day shape modulates them)."""

    traffic_interval_s: int = 300
    hydromet_interval_s: int = 600
    missing_rate: float = 0.015
    reports_per_hour: float = 6.0
    storms_per_day: float = 0.6
    coordinates_share: float = 0.6
    english_share: float = 0.3


@dataclass(frozen=True, slots=True)
class IncidentSpec:
    """A ground-truth incident: ``crash`` blocks the approach just past ``detector``; other kinds
    (``fire``, ``fallen_tree``, ...) are report clusters around ``place`` or ``lat``/``lon``."""

    id: str
    kind: str
    at_min: float
    duration_min: float = 45.0
    category: str = ""
    place: str = ""
    lat: float | None = None
    lon: float | None = None
    detector: str = ""
    reports: int = 0
    radius_m: float = 200.0
    spread_min: float = 25.0
    residual_capacity: float = 0.25
    category_share: float = 0.4


@dataclass(frozen=True, slots=True)
class StormSpec:
    """A scripted storm: rain at ``gauges`` peaking at ``peak_mm_per_h`` (a sine-shaped burst).

    ``reports`` citizen flood reports follow once a river it feeds passes Siaga 2."""

    id: str
    at_min: float
    duration_min: float
    gauges: tuple[str, ...]
    peak_mm_per_h: float
    reports: int = 0


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A sensor fault: ``stuck`` repeats one reading, ``silent`` sends nothing."""

    sensor: str
    kind: str
    at_min: float
    duration_min: float


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str = "quiet"
    streams: StreamSpec = field(default_factory=StreamSpec)
    incidents: tuple[IncidentSpec, ...] = ()
    storms: tuple[StormSpec, ...] = ()
    faults: tuple[FaultSpec, ...] = ()


def _build(cls: type, table: Any, where: str) -> Any:
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: expected a table, got {type(table).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def _incident(table: Any, n: int) -> IncidentSpec:
    spec = _build(IncidentSpec, table, f"incident #{n}")
    category = spec.category or KIND_CATEGORY.get(spec.kind, spec.kind)
    if spec.kind == "crash" and not spec.detector:
        raise ScenarioError(f"incident {spec.id}: a crash needs a detector")
    if spec.kind != "crash" and not spec.place and spec.lat is None:
        raise ScenarioError(f"incident {spec.id}: needs a place or lat/lon")
    return replace(spec, category=category)


def parse_scenario(data: dict) -> Scenario:
    """A scenario from its parsed TOML tables; unknown keys are errors, not silently ignored."""
    faults = tuple(_build(FaultSpec, t, f"fault #{n}") for n, t in enumerate(data.get("fault", [])))
    for fault in faults:
        if fault.kind not in ("stuck", "silent"):
            raise ScenarioError(f"fault on {fault.sensor}: kind must be stuck or silent")
    return Scenario(
        name=str(data.get("name", "scenario")),
        streams=_build(StreamSpec, data.get("streams", {}), "[streams]"),
        incidents=tuple(_incident(t, n) for n, t in enumerate(data.get("incident", []))),
        storms=tuple(
            _build(StormSpec, t, f"storm #{n}") for n, t in enumerate(data.get("storm", []))
        ),
        faults=faults,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML file; every problem is a :class:`ScenarioError` naming the file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from None
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
