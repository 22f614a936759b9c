"""A city as configuration: detectors, gauges, zones, places and routing read from its folder.

The folder holds ``city.toml`` naming the other files (see ``cities/balikpapan``). Nothing
city-specific lives in code; a new city is a new folder.

>>> from kendali.settings import Settings
>>> city = load_city(Settings().city)
>>> city.name, len(city.detectors) >= 40, city.tz.key
('Balikpapan (demo)', True, 'Asia/Makassar')
>>> city.agencies_for("fire")
('damkar', 'police', 'health')
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo.zones import Zone, ZoneIndex, load_zones

__all__ = ["City", "CityError", "Detector", "FloodArea", "Gauge", "load_city"]


class CityError(ValueError):
    """A city file is missing or malformed; the message names the file and the row."""


@dataclass(frozen=True, slots=True)
class Detector:
    """An ATCS vehicle detector on one approach of a signalised intersection."""

    id: str
    intersection: str
    intersection_name: str
    approach: str
    road: str
    lat: float
    lon: float
    speed_limit_kmh: float
    capacity_vph: float
    upstream: str | None
    downstream: str | None


@dataclass(frozen=True, slots=True)
class Gauge:
    """A river-level or rain gauge; river gauges carry the city's Siaga 3/2/1 levels in cm."""

    id: str
    name: str
    kind: str
    lat: float
    lon: float
    siaga3_cm: float | None = None
    siaga2_cm: float | None = None
    siaga1_cm: float | None = None
    upstream: str | None = None
    travel_min: float | None = None
    feeds: tuple[str, ...] = ()
    flood_area: str | None = None


@dataclass(frozen=True, slots=True)
class FloodArea:
    """A flood-prone polygon the city has mapped, linked from the gauges that watch it."""

    id: str
    name: str
    geometry: BaseGeometry


@dataclass(frozen=True)
class City:
    """Everything Kendali knows about one city."""

    name: str
    tz: ZoneInfo
    center: tuple[float, float]
    bbox: tuple[float, float, float, float]
    detectors: dict[str, Detector]
    gauges: dict[str, Gauge]
    zones: list[Zone]
    flood_areas: dict[str, FloodArea]
    places: dict[str, tuple[float, float]]
    agencies: dict[str, str]
    routing: dict[str, tuple[str, ...]]
    zone_routing: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    folder: Path | None = None
    #: Categories whose incidents only callers with a token may read (family help, crime): the
    #: public reads of the API (list, one incident, GeoJSON, CAP) leave them out.
    restricted: frozenset[str] = frozenset()

    @cached_property
    def zone_index(self) -> ZoneIndex:
        return ZoneIndex(self.zones)

    def zone_of(self, lon: float, lat: float) -> str | None:
        """Name of the zone containing a point (``None`` outside the city)."""
        zone = self.zone_index.locate(lon, lat)
        return zone.name if zone else None

    def agencies_for(self, category: str, zone: str | None = None) -> tuple[str, ...]:
        """Agencies that act on a category, plus any the zone adds; unknown → ``other``."""
        base = self.routing.get(category) or self.routing.get("other", ())
        extra = self.zone_routing.get(zone or "", {}).get(category, ())
        return tuple(dict.fromkeys((*base, *extra)))

    def place(self, name: str) -> tuple[float, float] | None:
        """(lon, lat) of a known place or zone name, case-insensitive."""
        key = name.strip().lower()
        if key in self.places:
            return self.places[key]
        zone = self.zone_index.by_name(name)
        if zone is not None:
            point = zone.geometry.representative_point()
            return (point.x, point.y)
        return None


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except OSError as exc:
        raise CityError(f"cannot read {path}: {exc}") from None


def _float(row: dict, name: str, where: str) -> float | None:
    value = (row.get(name) or "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise CityError(f"{where}: {name}={value!r} is not a number") from None


def _required_float(row: dict, name: str, where: str) -> float:
    value = _float(row, name, where)
    if value is None:
        raise CityError(f"{where}: {name} is required")
    return value


def _detectors(path: Path) -> dict[str, Detector]:
    out = {}
    for n, row in enumerate(_rows(path), start=2):
        where = f"{path.name} line {n}"
        det = Detector(
            id=row["detector_id"].strip(),
            intersection=row["intersection"].strip(),
            intersection_name=(row.get("intersection_name") or row["intersection"]).strip(),
            approach=row["approach"].strip(),
            road=(row.get("road") or "").strip(),
            lat=_required_float(row, "lat", where),
            lon=_required_float(row, "lon", where),
            speed_limit_kmh=_float(row, "speed_limit_kmh", where) or 50.0,
            capacity_vph=_float(row, "capacity_vph", where) or 1800.0,
            upstream=(row.get("upstream") or "").strip() or None,
            downstream=(row.get("downstream") or "").strip() or None,
        )
        out[det.id] = det
    for det in out.values():
        for link in (det.upstream, det.downstream):
            if link and link not in out:
                raise CityError(f"{path.name}: {det.id} links to unknown detector {link}")
    return out


def _gauges(path: Path) -> dict[str, Gauge]:
    out = {}
    for n, row in enumerate(_rows(path), start=2):
        where = f"{path.name} line {n}"
        kind = row["kind"].strip()
        if kind not in ("river", "rain"):
            raise CityError(f"{where}: kind must be river or rain, got {kind!r}")
        gauge = Gauge(
            id=row["station"].strip(),
            name=(row.get("name") or row["station"]).strip(),
            kind=kind,
            lat=_required_float(row, "lat", where),
            lon=_required_float(row, "lon", where),
            siaga3_cm=_float(row, "siaga3_cm", where),
            siaga2_cm=_float(row, "siaga2_cm", where),
            siaga1_cm=_float(row, "siaga1_cm", where),
            upstream=(row.get("upstream") or "").strip() or None,
            travel_min=_float(row, "travel_min", where),
            feeds=tuple(s.strip() for s in (row.get("feeds") or "").split(";") if s.strip()),
            flood_area=(row.get("flood_area") or "").strip() or None,
        )
        if kind == "river" and not (gauge.siaga3_cm and gauge.siaga2_cm and gauge.siaga1_cm):
            raise CityError(f"{where}: river gauge {gauge.id} needs siaga3/2/1 levels")
        out[gauge.id] = gauge
    return out


def _flood_areas(path: Path) -> dict[str, FloodArea]:
    data = orjson.loads(path.read_bytes())
    out = {}
    for feature in data.get("features", []):
        props = feature.get("properties") or {}
        area = FloodArea(
            str(props["id"]), str(props.get("name", props["id"])), shape(feature["geometry"])
        )
        out[area.id] = area
    return out


def _places(path: Path) -> dict[str, tuple[float, float]]:
    out = {}
    for n, row in enumerate(_rows(path), start=2):
        where = f"{path.name} line {n}"
        out[row["name"].strip().lower()] = (
            _required_float(row, "lon", where),
            _required_float(row, "lat", where),
        )
    return out


def load_city(folder: str | Path) -> City:
    """Load a city folder; every problem is a :class:`CityError` naming the file."""
    folder = Path(folder)
    try:
        return _load_city(folder)
    except CityError:
        raise
    except (OSError, ValueError, LookupError, TypeError, AttributeError, ShapelyError) as exc:
        # Malformed files (bad UTF-8, TOML, JSON, missing columns) must not escape as bare errors.
        raise CityError(f"city {folder}: malformed file ({type(exc).__name__}: {exc})") from None


def _load_city(folder: Path) -> City:
    try:
        conf = tomllib.loads((folder / "city.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CityError(f"cannot read {folder / 'city.toml'}: {exc}") from None
    files = conf.get("files", {})

    def file(name: str) -> Path | None:
        return (folder / files[name]).resolve() if files.get(name) else None

    zone_props = conf.get("zones_properties", {})
    zones = load_zones(
        file("zones"),
        name_property=zone_props.get("name", "nama"),
        code_property=zone_props.get("code", "kode"),
        parent_property=zone_props.get("parent"),
    )
    routing_path = file("routing")
    routing = tomllib.loads(routing_path.read_text(encoding="utf-8")) if routing_path else {}
    agencies = dict(routing.get("agencies", {}))
    categories = {k: tuple(v) for k, v in routing.get("categories", {}).items()}
    for category, codes in categories.items():
        unknown = [c for c in codes if c not in agencies]
        if unknown:
            raise CityError(f"routing: category {category} names unknown agencies {unknown}")
    zone_routing = {
        zone: {cat: tuple(codes) for cat, codes in table.items()}
        for zone, table in routing.get("zones", {}).items()
    }
    restricted = routing.get("access", {}).get("restricted", [])
    if not isinstance(restricted, list) or not all(isinstance(c, str) for c in restricted):
        raise CityError("routing: access.restricted must be a list of category names")
    unknown = sorted(set(restricted) - set(categories))
    if unknown:
        raise CityError(f"routing: access.restricted names unknown categories {unknown}")
    return City(
        name=conf.get("name", folder.name),
        tz=ZoneInfo(conf.get("timezone", "UTC")),
        center=tuple(conf.get("center", (0.0, 0.0))),
        bbox=tuple(conf.get("bbox", (-180.0, -90.0, 180.0, 90.0))),
        detectors=_detectors(file("detectors")) if file("detectors") else {},
        gauges=_gauges(file("gauges")) if file("gauges") else {},
        zones=zones,
        flood_areas=_flood_areas(file("flood_areas")) if file("flood_areas") else {},
        places=_places(file("places")) if file("places") else {},
        agencies=agencies,
        routing=categories,
        zone_routing=zone_routing,
        folder=folder,
        restricted=frozenset(restricted),
    )
