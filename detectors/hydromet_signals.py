"""Wording and shape of hydromet signals: CAP terms, one-line explanations, evidence, areas.

Kept apart from the bank so that what operators read can be reviewed (and tested) on its own.
Siaga ranks map onto CAP severity as Siaga 3 (waspada: be alert, rivers may overtop in low
spots) -> Moderate, Siaga 2 (siaga: flooding of prone areas likely) -> Severe, Siaga 1 (awas:
overflow, evacuate) -> Extreme: CAP's "possible", "significant" and "extraordinary" threat to
life or property.

>>> SEVERITY_OF_RANK[2], cap_terms("trend", 30.0)
('Severe', ('Immediate', 'Likely'))
>>> hhmm(datetime(2026, 11, 27, 6, 5, tzinfo=timezone.utc), ZoneInfo("Asia/Makassar"))
'14:05'
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

__all__ = [
    "SEVERITY_OF_RANK",
    "area_ring",
    "cap_terms",
    "eta_phrase",
    "evidence_ref",
    "hhmm",
]

#: CAP severity of an assessed rank (0 normal .. 3 Siaga 1); see the module docstring.
SEVERITY_OF_RANK = ("Minor", "Moderate", "Severe", "Extreme")

_TERMS = {
    "observed": ("Immediate", "Observed"),
    "trend": ("Expected", "Likely"),
    "upstream": ("Expected", "Likely"),
    "rain": ("Future", "Possible"),
}


def cap_terms(basis: str, eta_min: float | None = None) -> tuple[str, str]:
    """CAP ``(urgency, certainty)`` of an assessment by what it rests on.

    A trend projection due within the hour is ``Immediate`` (act now); further ahead ``Expected``.

    >>> cap_terms("upstream", 90.0), cap_terms("rain")
    (('Expected', 'Likely'), ('Future', 'Possible'))
    """
    urgency, certainty = _TERMS[basis]
    if basis == "trend" and eta_min is not None and eta_min <= 60:
        urgency = "Immediate"
    return urgency, certainty


def hhmm(ts: datetime, tz: ZoneInfo | timezone) -> str:
    """Local wall-clock ``HH:MM`` of an aware timestamp."""
    return ts.astimezone(tz).strftime("%H:%M")


def eta_phrase(eta_min: float) -> str:
    """Human rounding of a lead time: 5-minute steps below 2 h, then half hours.

    >>> eta_phrase(3), eta_phrase(42), eta_phrase(200)
    ('within minutes', 'in about 40 minutes', 'in about 3.5 hours')
    """
    if eta_min < 5:
        return "within minutes"
    if eta_min < 120:
        return f"in about {5 * round(eta_min / 5):.0f} minutes"
    hours = round(eta_min / 30) / 2
    return f"in about {hours:g} hours"


def evidence_ref(station: str, ts: datetime) -> str:
    """Reference to one reading, resolvable in the sensor series store.

    >>> evidence_ref("AMPAL-MTH", datetime(2026, 1, 1, tzinfo=timezone.utc))
    'gauge:AMPAL-MTH@2026-01-01T00:00:00+00:00'
    """
    return f"gauge:{station}@{ts.isoformat()}"


def area_ring(geometry: BaseGeometry | None) -> tuple[tuple[float, float], ...] | None:
    """Exterior ring of a (multi)polygon as ``(lon, lat)`` pairs; the largest part if several.

    >>> area_ring(Polygon([(0, 0), (1, 0), (1, 1)]))
    ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0))
    """
    if geometry is None or geometry.is_empty:
        return None
    if isinstance(geometry, MultiPolygon):
        geometry = max(geometry.geoms, key=lambda g: g.area)
    if not isinstance(geometry, Polygon):
        return None
    return tuple((round(x, 6), round(y, 6)) for x, y in geometry.exterior.coords)
