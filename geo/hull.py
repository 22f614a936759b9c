"""The area a cluster of reports covers: their convex hull, buffered in metres, as a lon-lat ring.

Points are projected to a local plane (equirectangular around their centre, exact enough at city
scale), so the buffer is in true metres at any latitude.

>>> ring = buffered_hull([(116.83, -1.27), (116.831, -1.27), (116.8305, -1.269)], 50)
>>> ring[0] == ring[-1], len(ring) > 4
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from shapely.geometry import MultiPoint, Polygon

from geo.distance import EARTH_RADIUS_M

__all__ = ["buffered_hull"]


def buffered_hull(
    points: Sequence[tuple[float, float]], buffer_m: float, *, tolerance_m: float = 5.0
) -> tuple[tuple[float, float], ...]:
    """Closed ring of (lon, lat) around the points' convex hull grown by ``buffer_m`` metres.

    One point gives a circle, two a capsule. Coordinates are rounded to 6 decimals (~0.1 m).
    """
    if not points or buffer_m <= 0:
        raise ValueError(f"buffered_hull needs points and a buffer > 0 m, got {buffer_m} m")
    lon0 = sum(p[0] for p in points) / len(points)
    lat0 = sum(p[1] for p in points) / len(points)
    kx = math.radians(1) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    ky = math.radians(1) * EARTH_RADIUS_M
    local = MultiPoint([((lon - lon0) * kx, (lat - lat0) * ky) for lon, lat in points])
    area = local.convex_hull.buffer(buffer_m, quad_segs=4).simplify(tolerance_m)
    if not isinstance(area, Polygon):  # a positive buffer of a hull is one polygon
        raise ValueError(f"buffered hull of {len(points)} points is not a polygon")
    return tuple(
        (round(lon0 + x / kx, 6), round(lat0 + y / ky, 6)) for x, y in area.exterior.coords
    )
