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

from detectors.rain import daily_class, hourly_class
from kendali.city import Gauge
from kendali.records import Signal

__all__ = [
    "SEVERITY_OF_RANK",
    "area_ring",
    "cap_terms",
    "eta_phrase",
    "evidence_ref",
    "fault_signal",
    "hhmm",
    "rain_signal",
]

#: CAP severity of an assessed rank (0 normal .. 3 Siaga 1); see the module docstring.
SEVERITY_OF_RANK = ("Minor", "Moderate", "Severe", "Extreme")

_FAULT_TEXT = {
    "flat_line": "flat line (value unchanged)",
    "jump": "impossible jump",
    "silence": "silent (no readings)",
}
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


def fault_signal(
    g: Gauge,
    fault: str,
    state: str,
    now: datetime,
    episode: str,
    began: datetime,
    last_ts: datetime | None,
) -> Signal:
    """A maintenance ticket for a gauge fault (``flat_line``, ``jump`` or ``silence``)."""
    text = f"{g.name} gauge {_FAULT_TEXT[fault]}"
    text += f" since {hhmm(began, began.tzinfo)}: maintenance" if state == "open" else ""
    text += ": fault cleared" if state == "clear" else ""
    return Signal(
        source="hydromet",
        kind="fault",
        category="gauge_fault",
        key=f"gauge:{g.id}",
        episode=episode,
        state=state,
        ts=now,
        lat=g.lat,
        lon=g.lon,
        score=0.5,
        severity="Minor",
        explanation=text,
        evidence=(evidence_ref(g.id, last_ts),) if last_ts else (),
        urgency="Future",
        certainty="Observed",
        details={"station": g.id, "fault": fault, "since": began.isoformat()},
    )


def rain_signal(
    g: Gauge,
    state: str,
    now: datetime,
    acc: dict[str, float],
    episode: str,
    anomaly_z: float | None,
    tz: ZoneInfo | timezone,
) -> Signal:
    """A ``weather_warning`` for BMKG very heavy (or extreme daily) rain at a rain gauge."""
    hourly, daily = hourly_class(acc["1h"]), daily_class(acc["24h"])
    text = (
        f"{g.name}: {hourly} rain {acc['1h']:g} mm in 1 h, {acc['24h']:g} mm in 24 h "
        f"({daily}), at {hhmm(now, tz)}"
    )
    return Signal(
        source="hydromet",
        kind="incident",
        category="weather_warning",
        key=f"gauge:{g.id}",
        episode=episode,
        state=state,
        ts=now,
        lat=g.lat,
        lon=g.lon,
        score=round(min(1.0, acc["24h"] / 150.0 + acc["1h"] / 40.0), 3),
        severity="Extreme" if daily == "extreme" else "Severe",
        explanation=text,
        evidence=(evidence_ref(g.id, now),),
        urgency="Immediate",
        certainty="Observed",
        details={
            "station": g.id,
            "rain_mm": acc,
            "hourly_class": hourly,
            "daily_class": daily,
            "anomaly_z": anomaly_z,
            "feeds": list(g.feeds),
        },
    )
