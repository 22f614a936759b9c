"""Where a report is: its coordinates, else a place or zone name the city knows, and its zone.

A report that cannot be placed gets a one-line reason instead, so the dataflow can dead-letter
it rather than drop it.

>>> from datetime import datetime, timezone
>>> from kendali.city import load_city
>>> from kendali.records import Complaint
>>> from kendali.settings import Settings
>>> city = load_city(Settings().city)
>>> t = datetime(2026, 11, 27, tzinfo=timezone.utc)
>>> locate(Complaint("r1", "112", t, "asap tebal", place="Lapangan Merdeka"), city)
Located(lon=116.8365, lat=-1.2735, zone='Balikpapan Kota', how='place')
>>> locate(Complaint("r2", "112", t, "ada kebakaran"), city)
'no coordinates and no known place or zone name in the report'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from kendali.city import City
from kendali.records import Complaint

__all__ = ["Located", "locate"]

#: Reports this far outside the city's bounding box (degrees, ~11 km) are refused.
BBOX_MARGIN_DEG = 0.1


@dataclass(frozen=True, slots=True)
class Located:
    """A report's position; ``how`` says what it came from: coords, place, zone or text."""

    lon: float
    lat: float
    zone: str | None
    how: str


def _valid_coords(lat: float | None, lon: float | None) -> bool:
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    return -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0.0, 0.0)


def _in_city(city: City, lon: float, lat: float) -> bool:
    west, south, east, north = city.bbox
    m = BBOX_MARGIN_DEG
    return west - m <= lon <= east + m and south - m <= lat <= north + m


def _names(city: City) -> list[str]:
    """Known place and zone names, longest first so "Simpang Dam" beats "Dam"."""
    names = {*city.places, *(z.name.lower() for z in city.zones)}
    return sorted(names, key=len, reverse=True)


def _name_in_text(city: City, text: str) -> str | None:
    low = " ".join(re.split(r"[^\w.]+", text.lower()))
    for name in _names(city):
        if re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", low):
            return name
    return None


def locate(complaint: Complaint, city: City) -> Located | str:
    """(lon, lat, zone) of a report, or the reason it cannot be located."""
    if _valid_coords(complaint.lat, complaint.lon):
        lon, lat = float(complaint.lon), float(complaint.lat)
        if not _in_city(city, lon, lat):
            return f"coordinates ({lat:.5f}, {lon:.5f}) are outside {city.name}"
        return Located(lon, lat, city.zone_of(lon, lat), "coords")
    if complaint.place:
        point = city.place(complaint.place)
        if point is not None:
            how = "place" if complaint.place.strip().lower() in city.places else "zone"
            return Located(point[0], point[1], city.zone_of(*point), how)
    name = _name_in_text(city, f"{complaint.place or ''} {complaint.text or ''}")
    if name is not None:
        point = city.place(name)
        return Located(point[0], point[1], city.zone_of(*point), "text")
    if complaint.place:
        return f"no coordinates and unknown place {complaint.place.strip()[:80]!r}"
    return "no coordinates and no known place or zone name in the report"
