"""Administrative zones (kecamatan, kelurahan) and point-in-zone lookups with an STRtree.

>>> from shapely.geometry import box
>>> idx = ZoneIndex([Zone("Z1", "Zone one", box(0, 0, 1, 1)),
...                 Zone("Z2", "Zone two", box(1, 0, 2, 1))])
>>> idx.locate(0.5, 0.5).name, idx.locate(5, 5) is None
('Zone one', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson
import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

__all__ = ["Zone", "ZoneIndex", "load_zones"]


@dataclass(frozen=True, slots=True)
class Zone:
    """One zone: a stable code, a display name, its outline and (optionally) its parent zone."""

    code: str
    name: str
    geometry: BaseGeometry
    parent: str | None = None


class ZoneIndex:
    """Finds the zone of a point, or the zones an area touches, through a spatial index."""

    def __init__(self, zones: list[Zone]):
        self.zones = list(zones)
        self._tree = shapely.STRtree([z.geometry for z in self.zones])
        self._by_name = {z.name.lower(): z for z in self.zones}
        self._by_code = {z.code: z for z in self.zones}

    def locate(self, lon: float, lat: float) -> Zone | None:
        """The zone containing (lon, lat); a point on no zone gets the nearest within ~1 km."""
        point = Point(lon, lat)
        hits = self._tree.query(point, predicate="intersects")
        if len(hits):
            return self.zones[int(min(hits))]
        nearest = self._tree.query_nearest(point, max_distance=0.01)
        return self.zones[int(nearest[0])] if len(nearest) else None

    def touching(self, area: BaseGeometry) -> list[Zone]:
        """Zones that an area (a warning polygon, a flood extent) intersects, in index order."""
        return [self.zones[int(i)] for i in sorted(self._tree.query(area, predicate="intersects"))]

    def by_name(self, name: str) -> Zone | None:
        """Case-insensitive lookup by display name."""
        return self._by_name.get(name.strip().lower())

    def by_code(self, code: str) -> Zone | None:
        return self._by_code.get(code)

    def to_geojson(self) -> dict:
        """The zones as a GeoJSON FeatureCollection (for the wall's map)."""
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": z.code, "name": z.name, "parent": z.parent},
                    "geometry": shapely.geometry.mapping(z.geometry),
                }
                for z in self.zones
            ],
        }


def load_zones(
    path: str | Path,
    *,
    name_property: str = "nama",
    code_property: str = "kode",
    parent_property: str | None = None,
) -> list[Zone]:
    """Zones from a GeoJSON FeatureCollection of polygons or multipolygons."""
    data = orjson.loads(Path(path).read_bytes())
    zones = []
    for i, feature in enumerate(data.get("features", [])):
        props = feature.get("properties") or {}
        name = str(props.get(name_property) or props.get("name") or f"zone-{i}")
        code = str(props.get(code_property) or name)
        geometry = shapely.make_valid(shape(feature["geometry"]))
        parent = props.get(parent_property) if parent_property else None
        zones.append(Zone(code, name, geometry, parent))
    if not zones:
        raise ValueError(f"{path}: no zone features")
    return zones
