"""From signals and operator actions to incidents: fusion, the lifecycle, stable ids, versions.

The book holds the incidents of one dataflow key (a zone) and is their only writer. Signals are
fused (:mod:`detectors.fusion`) into the incident they describe, or open a new one whose id
derives from its first episode, so a replay yields the same ids and versions (what makes the
Redis sink idempotent). Operator actions (:class:`kendali.actions.Action`) move incidents along
the lifecycle (:mod:`detectors.lifecycle`); ``tick`` resolves incidents whose signals have all
been normal for a while, and closes and forgets finished ones. Every change is a new
:class:`Incident` with ``version + 1``.

>>> from datetime import datetime, timedelta, timezone
>>> from kendali.records import Signal
>>> t = datetime(2026, 11, 27, 0, 5, tzinfo=timezone.utc)
>>> s = Signal("traffic", "incident", "traffic_incident", "atcs:D1", "atcs:D1:1", "open", t,
...            -1.27, 116.83, 0.9, "Severe", "occupancy 80% vs usual 20%")
>>> book = IncidentBook({"traffic_incident": ("dishub", "police")})
>>> [(i.id, i.version, i.status, i.agencies) for i in book.apply(s)]
[('INC-e31f11519fc9', 1, 'new', ('dishub', 'police'))]
>>> from dataclasses import replace
>>> [(i.version, i.status) for i in book.apply(replace(s, state="clear", ts=t))]
[(2, 'new')]
>>> [(i.version, i.status) for i in book.tick(t + timedelta(minutes=20))]
[(3, 'resolved')]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from detectors.fusion import FusionRules, distance_m, fuse, load_fusion_rules
from detectors.lifecycle import (
    ACTIVE,
    RESULT,
    LifecycleRules,
    load_lifecycle_rules,
    refusal,
)
from kendali.actions import Action
from kendali.records import CAP_SEVERITY, Incident, Signal

__all__ = ["IncidentBook", "incident_id"]

#: Evidence references kept on an incident besides its signals; ``signal_count`` keeps the total.
MAX_EVIDENCE = 200


def incident_id(episode: str) -> str:
    """Stable incident id from the episode that opened it.

    >>> incident_id("atcs:D1:1")
    'INC-e31f11519fc9'
    """
    return "INC-" + hashlib.sha1(episode.encode()).hexdigest()[:12]


@dataclass
class _Case:
    """One incident and what it is made of: the latest signal of each member episode."""

    incident: Incident
    members: dict[str, Signal]
    active: set[str]
    raw: list[str] = field(default_factory=list)
    absorbed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    dispatched: tuple[str, ...] = ()
    quiet_since: datetime | None = None
    ended_at: datetime | None = None
    merged_into: str | None = None


@dataclass
class IncidentBook:
    """Open and recent incidents of one dataflow key; ``process`` takes signals and actions."""

    routing: dict[str, tuple[str, ...]]
    rules: FusionRules = field(default_factory=FusionRules)
    lifecycle: LifecycleRules = field(default_factory=LifecycleRules)
    cases: dict[str, _Case] = field(default_factory=dict)
    episodes: dict[str, str] = field(default_factory=dict)
    suppressed: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def for_city(cls, routing: dict[str, tuple[str, ...]], folder: Path | None) -> IncidentBook:
        """A book with the fusion and lifecycle rules of a city folder's ``fusion.toml``."""
        path = Path(folder) / "fusion.toml" if folder is not None else None
        return cls(dict(routing), load_fusion_rules(path), load_lifecycle_rules(path))

    def adopt(self, current: IncidentBook) -> list[Incident]:
        """Take ``current``'s configuration (routing, fusion and lifecycle rules) after a
        restart from a snapshot taken under an older one; returns no incidents.

        The incidents held stay; each takes the new routing with its next version.
        """
        self.routing, self.rules, self.lifecycle = current.routing, current.rules, current.lifecycle
        return []

    @property
    def incidents(self) -> dict[str, Incident]:
        """Current version of every incident the book holds."""
        return {cid: case.incident for cid, case in self.cases.items()}

    def _agencies(self, category: str) -> tuple[str, ...]:
        return self.routing.get(category) or self.routing.get("other", ())

    # -- rendering ------------------------------------------------------------------------

    def _render(self, case: _Case, status: str, prefix: str = "") -> Incident:
        """The case's next version: derived fields re-fused from its members."""
        cur = case.incident
        fused = fuse(list(case.members.values()), self.rules, self._agencies)
        absorbed = [e for ev in case.absorbed.values() for e in ev]
        evidence = dict.fromkeys([*case.members, *absorbed])
        evidence.update(dict.fromkeys(case.raw[-MAX_EVIDENCE:]))
        worst = max(CAP_SEVERITY.index(fused.severity), CAP_SEVERITY.index(cur.severity))
        incident = replace(
            cur,
            version=cur.version + 1,
            category=fused.category,
            status=status,
            severity=CAP_SEVERITY[worst],
            urgency=fused.urgency,
            certainty=fused.certainty,
            lat=fused.lat,
            lon=fused.lon,
            agencies=tuple(dict.fromkeys((*fused.agencies, *case.dispatched))),
            evidence=tuple(evidence),
            sources=tuple(dict.fromkeys((*fused.sources, *cur.sources))),
            first_seen=min(cur.first_seen, *(m.ts for m in case.members.values())),
            last_seen=max(cur.last_seen, *(m.ts for m in case.members.values())),
            score=max(cur.score, fused.score),
            explanation=prefix + fused.explanation,
            area=fused.area,
            merged_into=case.merged_into,
        )
        case.incident = incident
        return incident

    def _open(self, signal: Signal) -> Incident:
        new_id = incident_id(signal.episode)
        seed = Incident(
            id=new_id, version=0, kind=signal.kind, category=signal.category, status="new",
            severity=signal.severity, urgency=signal.urgency, certainty=signal.certainty,
            lat=signal.lat, lon=signal.lon, zone=signal.zone, agencies=(), evidence=(),
            sources=(), first_seen=signal.ts, last_seen=signal.ts, score=signal.score,
            explanation="", area=signal.area, signal_count=0,
        )  # fmt: skip
        case = _Case(seed, {}, set())
        self.cases[new_id] = case
        return self._absorb_signal(case, signal)

    # -- signals --------------------------------------------------------------------------

    def _absorb_signal(self, case: _Case, signal: Signal) -> Incident:
        self.episodes[signal.episode] = case.incident.id
        case.members[signal.episode] = signal
        case.raw = [*case.raw, *signal.evidence][-MAX_EVIDENCE:]
        status, prefix = case.incident.status, ""
        if signal.state == "clear":
            case.active.discard(signal.episode)
            if not case.active:
                case.quiet_since = signal.ts
        else:
            case.active.add(signal.episode)
            case.quiet_since = None
            if status == "resolved":
                status, prefix, case.ended_at = "new", "Reopened: ", None
        case.incident = replace(case.incident, signal_count=case.incident.signal_count + 1)
        if case.merged_into is not None:
            prefix = f"Merged into {case.merged_into}: "
        return self._render(case, status, prefix)

    def _candidate(self, signal: Signal) -> _Case | None:
        """The incident a signal of a new episode joins, if any: the nearest compatible one."""
        if signal.kind != "incident":
            return None
        best: tuple[float, datetime, str] | None = None
        for cid, case in self.cases.items():
            inc = case.incident
            if inc.kind != "incident" or not self._open_to(case, signal.ts):
                continue
            if not self.rules.compatible(signal.category, inc.category):
                continue
            window = self.rules.window(signal.category, inc.category)
            if not case.active and signal.ts - inc.last_seen > window:
                continue
            near = [
                distance_m(signal, m)
                for m in case.members.values()
                if distance_m(signal, m) <= self.rules.radius_m(signal.category, m.category)
            ]
            if near and (best is None or (min(near), inc.first_seen, cid) < best):
                best = (min(near), inc.first_seen, cid)
        return self.cases[best[2]] if best else None

    def _open_to(self, case: _Case, ts: datetime) -> bool:
        status = case.incident.status
        if status in ACTIVE:
            return True
        return (
            status == "resolved"
            and case.ended_at is not None
            and ts - case.ended_at <= self.lifecycle.reopen_within
        )

    def _signal(self, signal: Signal) -> list[Incident]:
        if signal.episode in self.suppressed:
            if signal.state == "clear":
                del self.suppressed[signal.episode]
            return []
        known = self.episodes.get(signal.episode)
        case = self.cases.get(known) if known else None
        if case is not None:
            return [self._absorb_signal(case, signal)]
        if signal.state == "clear":
            return []
        joined = self._candidate(signal)
        if joined is not None:
            return [self._absorb_signal(joined, signal)]
        return [self._open(signal)]

    # -- actions --------------------------------------------------------------------------

    def _action(self, action: Action) -> list[Incident]:
        case = self.cases.get(action.incident_id)
        if case is None or refusal(action.action, case.incident.status) is not None:
            return []
        if action.action == "annotate":
            return []
        if action.action == "absorb":
            return self._absorb_incident(case, action)
        status = RESULT[action.action]
        if action.action == "dispatch" and action.fields.get("agency"):
            case.dispatched = tuple(dict.fromkeys((*case.dispatched, action.fields["agency"])))
        prefix = ""
        if action.action in ("resolve", "false_alarm", "merge"):
            case.ended_at = action.ts
            if action.action != "merge":
                until = action.ts + self.lifecycle.suppress_for
                self.suppressed.update(dict.fromkeys(case.members, until))
        out = []
        if action.action == "merge":
            into = action.fields["into"]
            case.merged_into, prefix = into, f"Merged into {into}: "
            target = self.cases.get(into)
            if target is not None and refusal("absorb", target.incident.status) is None:
                out.append(self._merge_local(case, target))
        return [self._render(case, status, prefix), *out]

    def _merge_local(self, source: _Case, target: _Case) -> Incident:
        """Both halves of a merge in one book: the target takes over the source's episodes."""
        for episode, signal in source.members.items():
            self.episodes[episode] = target.incident.id
            target.members.setdefault(episode, signal)
            if episode in source.active:
                target.active.add(episode)
        target.absorbed[source.incident.id] = source.incident.evidence
        return self._render(target, target.incident.status)

    def _absorb_incident(self, target: _Case, action: Action) -> list[Incident]:
        """The target's half of a merge whose source lives under another key (another zone)."""
        source = action.fields["source"]
        if source in target.absorbed:
            return []
        target.absorbed[source] = tuple(action.fields.get("evidence", ()))
        extra = tuple(action.fields.get("sources", ()))
        target.incident = replace(
            target.incident, sources=tuple(dict.fromkeys((*target.incident.sources, *extra)))
        )
        return [self._render(target, target.incident.status)]

    # -- the bank contract -----------------------------------------------------------------

    def apply(self, item: Signal | Action) -> list[Incident]:
        """Fold one signal or action in; returns the incident versions it produced."""
        if isinstance(item, Action):
            return self._action(item)
        return self._signal(item)

    def process(self, items: list[Signal | Action]) -> list[Incident]:
        """Fold a batch in order (the detector-bank contract), then run the clock to the batch's
        newest event, so that a replay resolves and closes exactly as live operation does."""
        out = [inc for item in items for inc in self.apply(item)]
        return out + self.tick(max(item.ts for item in items)) if items else out

    def tick(self, now: datetime) -> list[Incident]:
        """Resolve incidents quiet for ``resolve_after``; close and forget finished ones.

        Forgetting bounds the book's memory (and its snapshot); the closed version is emitted so
        that Redis and the wall know the incident left the active set.
        """
        out = []
        for cid, case in list(self.cases.items()):
            if self._quiet_long_enough(case, now):
                case.ended_at = now
                out.append(self._render(case, "resolved"))
            elif self._finished_long_ago(case, now):
                out.append(
                    replace(case.incident, version=case.incident.version + 1, status="closed")
                )
                del self.cases[cid]
        if any(inc.status == "closed" for inc in out):
            self.episodes = {e: i for e, i in self.episodes.items() if i in self.cases}
        self.suppressed = {e: until for e, until in self.suppressed.items() if until > now}
        return out

    def _quiet_long_enough(self, case: _Case, now: datetime) -> bool:
        quiet = case.quiet_since
        return (
            case.incident.status in ACTIVE
            and not case.active
            and quiet is not None
            and now - quiet >= self.lifecycle.resolve_after
        )

    def _finished_long_ago(self, case: _Case, now: datetime) -> bool:
        rules = self.lifecycle
        return (
            case.incident.status in ("resolved", "false_alarm", "merged")
            and case.ended_at is not None
            and now - case.ended_at >= max(rules.close_after, rules.reopen_within)
        )
