"""From signals to incidents: one incident per episode, with a stable id and a version.

The book holds the incidents of one zone. Every change produces a new :class:`Incident` with
``version + 1``; ids are derived from the first episode, so a replay of the same signals yields
the same ids and versions (what makes the Redis sink idempotent).

>>> from datetime import datetime, timezone
>>> from kendali.records import Signal
>>> t = datetime(2026, 11, 27, 0, 5, tzinfo=timezone.utc)
>>> s = Signal("traffic", "incident", "traffic_incident", "atcs:D1", "atcs:D1:1", "open", t,
...            -1.27, 116.83, 0.9, "Severe", "occupancy 80% vs usual 20%")
>>> book = IncidentBook({"traffic_incident": ("dishub", "police")})
>>> [(i.id, i.version, i.status, i.agencies) for i in book.apply(s)]
[('INC-e31f11519fc9', 1, 'new', ('dishub', 'police'))]
>>> from dataclasses import replace
>>> [(i.version, i.status) for i in book.apply(replace(s, state="clear"))]
[(2, 'resolved')]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from kendali.records import CAP_CERTAINTY, CAP_SEVERITY, CAP_URGENCY, Incident, Signal

__all__ = ["IncidentBook", "incident_id"]

#: Evidence references kept on an incident (the newest); ``signal_count`` keeps the total.
MAX_EVIDENCE = 200


def incident_id(episode: str) -> str:
    """Stable incident id from the episode that opened it.

    >>> incident_id("atcs:D1:1")
    'INC-e31f11519fc9'
    """
    return "INC-" + hashlib.sha1(episode.encode()).hexdigest()[:12]


def _worse(scale: tuple[str, ...], a: str, b: str) -> str:
    rank = {name: i for i, name in enumerate(scale)}
    return a if rank.get(a, 0) >= rank.get(b, 0) else b


@dataclass
class IncidentBook:
    """Open and recent incidents of one zone, keyed by the episodes that feed them."""

    routing: dict[str, tuple[str, ...]]
    incidents: dict[str, Incident] = field(default_factory=dict)
    episodes: dict[str, str] = field(default_factory=dict)
    active: dict[str, set[str]] = field(default_factory=dict)

    def _agencies(self, signal: Signal) -> tuple[str, ...]:
        if signal.agencies:
            return signal.agencies
        return self.routing.get(signal.category) or self.routing.get("other", ())

    def _open(self, signal: Signal) -> Incident:
        new_id = incident_id(signal.episode)
        self.episodes[signal.episode] = new_id
        self.active[new_id] = {signal.episode}
        return Incident(
            id=new_id,
            version=1,
            kind=signal.kind,
            category=signal.category,
            status="new",
            severity=signal.severity,
            urgency=signal.urgency,
            certainty=signal.certainty,
            lat=signal.lat,
            lon=signal.lon,
            zone=signal.zone,
            agencies=self._agencies(signal),
            evidence=tuple(signal.evidence[-MAX_EVIDENCE:]),
            sources=(signal.source,),
            first_seen=signal.ts,
            last_seen=signal.ts,
            score=signal.score,
            explanation=signal.explanation,
            area=signal.area,
            signal_count=1,
        )

    def _update(self, current: Incident, signal: Signal) -> Incident:
        active = self.active.setdefault(current.id, set())
        if signal.state == "clear":
            active.discard(signal.episode)
        else:
            active.add(signal.episode)
        status = current.status
        if not active and status in ("new", "acknowledged", "dispatched"):
            status = "resolved"
        elif active and status == "resolved":
            status = "new"
        evidence = tuple(dict.fromkeys((*current.evidence, *signal.evidence)))[-MAX_EVIDENCE:]
        return replace(
            current,
            version=current.version + 1,
            status=status,
            severity=_worse(CAP_SEVERITY, signal.severity, current.severity)
            if signal.state != "clear"
            else current.severity,
            urgency=_worse(CAP_URGENCY, signal.urgency, current.urgency),
            certainty=_worse(CAP_CERTAINTY, signal.certainty, current.certainty),
            lat=signal.lat if signal.state != "clear" else current.lat,
            lon=signal.lon if signal.state != "clear" else current.lon,
            evidence=evidence,
            sources=tuple(dict.fromkeys((*current.sources, signal.source))),
            last_seen=max(current.last_seen, signal.ts),
            score=max(current.score, signal.score),
            explanation=signal.explanation,
            area=signal.area or current.area,
            signal_count=current.signal_count + 1,
        )

    def apply(self, signal: Signal) -> list[Incident]:
        """Fold one signal in; returns the incident versions it produced (zero or one)."""
        known = self.episodes.get(signal.episode)
        if known is None:
            if signal.state == "clear":
                return []
            incident = self._open(signal)
        else:
            incident = self._update(self.incidents[known], signal)
        self.incidents[incident.id] = incident
        return [incident]

    def process(self, signals: list[Signal]) -> list[Incident]:
        """Fold a batch of signals in order (the detector-bank contract)."""
        return [inc for signal in signals for inc in self.apply(signal)]

    def tick(self, now: datetime, retention: timedelta = timedelta(hours=6)) -> list[Incident]:
        """Close incidents that ended more than ``retention`` ago and forget them.

        Forgetting bounds the book's memory (and its snapshot); the closed version is emitted so
        that Redis and the wall know the incident left the active set.
        """
        closed = []
        for inc in list(self.incidents.values()):
            if (
                inc.status in ("resolved", "false_alarm", "merged")
                and inc.last_seen < now - retention
            ):
                closed.append(replace(inc, version=inc.version + 1, status="closed"))
                del self.incidents[inc.id]
                self.active.pop(inc.id, None)
        if closed:
            gone = {inc.id for inc in closed}
            self.episodes = {e: i for e, i in self.episodes.items() if i not in gone}
        return closed
