"""Typed records at Kendali's boundaries: what flows through Kafka, the dataflow and Redis.

Every record is a frozen, slotted dataclass with a ``SCHEMA`` version. Timestamps are always
timezone-aware ``datetime`` objects; on the wire they are ISO 8601 strings with an offset
(``2026-11-27T08:05:00+08:00``). Decoding and validation live in :mod:`kendali.codec`.

>>> from datetime import datetime, timedelta, timezone
>>> wita = timezone(timedelta(hours=8))
>>> r = TrafficReading("BPN-A01-N", "A01", "N", datetime(2026, 11, 27, 8, 5, tzinfo=wita),
...                    interval_s=300, volume=112, occupancy=23.5, speed=31.0)
>>> r.detector_id, r.ts.utcoffset()
('BPN-A01-N', datetime.timedelta(seconds=28800))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "CAP_CERTAINTY",
    "CAP_SEVERITY",
    "CAP_URGENCY",
    "INCIDENT_STATUSES",
    "Complaint",
    "DeadLetter",
    "HydrometReading",
    "Incident",
    "Signal",
    "TrafficReading",
]

#: CAP 1.2 enumerations, in increasing order of gravity where that makes sense.
CAP_SEVERITY = ("Unknown", "Minor", "Moderate", "Severe", "Extreme")
CAP_URGENCY = ("Unknown", "Past", "Future", "Expected", "Immediate")
CAP_CERTAINTY = ("Unknown", "Unlikely", "Possible", "Likely", "Observed")

#: Incident lifecycle states (issue 6 adds the transitions between them).
INCIDENT_STATUSES = (
    "new",
    "acknowledged",
    "dispatched",
    "resolved",
    "closed",
    "merged",
    "false_alarm",
)


@dataclass(frozen=True, slots=True)
class TrafficReading:
    """One ATCS vehicle-detector interval: counts, occupancy and (when measured) speed.

    ``volume`` is vehicles in the interval, ``occupancy`` the percentage of time the loop was
    occupied (0-100), ``speed`` the mean speed in km/h or ``None`` for count-only detectors.
    """

    SCHEMA = 1

    detector_id: str
    intersection: str
    approach: str
    ts: datetime
    interval_s: int
    volume: float | None
    occupancy: float | None
    speed: float | None


@dataclass(frozen=True, slots=True)
class HydrometReading:
    """One rain or river gauge observation.

    ``kind`` is ``"river"``, ``"rain"`` or ``"combined"``; ``level_cm`` is the water level on the
    gauge's staff, ``rain_mm`` the rain accumulated over ``interval_s``.
    """

    SCHEMA = 1

    station: str
    kind: str
    ts: datetime
    interval_s: int
    level_cm: float | None = None
    rain_mm: float | None = None


@dataclass(frozen=True, slots=True)
class Complaint:
    """A citizen report from any channel (112 call, app, WhatsApp, Open311, social media).

    ``reporter`` is already pseudonymised (a keyed hash) by the intake: no phone number or
    account name ever travels past it.
    """

    SCHEMA = 1

    id: str
    channel: str
    ts: datetime
    text: str = ""
    category: str | None = None
    lat: float | None = None
    lon: float | None = None
    place: str | None = None
    reporter: str | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    """What a detector says about one thing it watches: a detector, a gauge, a report cluster.

    Signals are the contract between ``detectors/`` and incident fusion. ``episode`` names one
    anomaly episode stably (the same input always gives the same episode), ``state`` is
    ``"open"``, ``"update"`` or ``"clear"``. ``kind`` is ``"incident"`` for things operators act
    on and ``"fault"`` for maintenance tickets (a stuck detector, a silent gauge).
    """

    SCHEMA = 1

    source: str
    kind: str
    category: str
    key: str
    episode: str
    state: str
    ts: datetime
    lat: float
    lon: float
    score: float
    severity: str
    explanation: str
    zone: str | None = None
    evidence: tuple[str, ...] = ()
    area: tuple[tuple[float, float], ...] | None = None
    urgency: str = "Immediate"
    certainty: str = "Likely"
    agencies: tuple[str, ...] = ()
    details: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Incident:
    """The unit operators work with: one event, however many signals and reports describe it.

    ``version`` increases by one with every change, so that sinks can write idempotently: a
    replayed version is recognised and ignored. ``area`` is a polygon ring of (lon, lat) pairs.
    ``merged_into`` names the incident an operator merged this one into (status ``merged``).
    """

    SCHEMA = 1

    id: str
    version: int
    kind: str
    category: str
    status: str
    severity: str
    urgency: str
    certainty: str
    lat: float
    lon: float
    zone: str | None
    agencies: tuple[str, ...]
    evidence: tuple[str, ...]
    sources: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    score: float
    explanation: str
    area: tuple[tuple[float, float], ...] | None = None
    signal_count: int = 1
    merged_into: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message the dataflow could not accept, with the reason, kept byte for byte."""

    topic: str
    reason: str
    value: bytes | None
    key: bytes | None = None
    partition: int | None = None
    offset: int | None = None
