"""Distances on the Earth in metres, for the short ranges a city works at.

>>> round(haversine_m(116.83, -1.27, 116.84, -1.27))
1112
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["EARTH_RADIUS_M", "haversine_m", "haversine_m_array", "offset_deg"]

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance between two (lon, lat) points in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def haversine_m_array(lon: float, lat: float, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Distances in metres from one point to many (vectorised)."""
    p1, p2 = np.radians(lat), np.radians(lats)
    dp, dl = p2 - p1, np.radians(lons - lon)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def offset_deg(lat: float, metres: float) -> tuple[float, float]:
    """Degrees of (longitude, latitude) that span ``metres`` near latitude ``lat``.

    >>> dlon, dlat = offset_deg(0.0, 111_195)
    >>> round(dlon, 3), round(dlat, 3)
    (1.0, 1.0)
    """
    dlat = math.degrees(metres / EARTH_RADIUS_M)
    dlon = dlat / max(1e-9, math.cos(math.radians(lat)))
    return dlon, dlat
