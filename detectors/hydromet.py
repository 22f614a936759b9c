"""The hydromet detector bank: river gauges and rain gauges of one city become flood signals.

Per river gauge, an *assessment* is the worst of what is known: the observed Siaga rank (with
hysteresis), the next rank projected from the rise rate ("Siaga 2 in about 40 minutes"), the
rank an upstream gauge reached within its travel time, and the rank heavy rain on a catchment
that feeds it suggests. One assessment above normal opens a flood episode for the gauge; the
episode is updated when its rank, basis or projection changes and cleared once the assessment
has been normal for a while. Faults (flat line, impossible jump, silence) are separate
maintenance episodes; a flat-lined or jumping gauge's values are not used as readings. Very
heavy rain (BMKG class) at a rain gauge is a ``weather_warning``.

>>> from datetime import datetime, timedelta, timezone
>>> from kendali.city import Gauge
>>> from kendali.records import HydrometReading
>>> g = Gauge("G1", "Kali Test", "river", -1.25, 116.87, 150.0, 200.0, 260.0)
>>> bank = HydrometBank({"G1": g}, {}, timezone(timedelta(hours=8)))
>>> t0 = datetime(2026, 11, 27, 14, 0, tzinfo=timezone(timedelta(hours=8)))
>>> out = bank.process([HydrometReading("G1", "river", t0 + timedelta(minutes=15 * i), 900,
...                                     level_cm=130.0 + 12 * i) for i in range(4)])
>>> [(s.state, s.severity) for s in out]
[('open', 'Moderate'), ('update', 'Severe'), ('update', 'Severe')]
>>> out[-1].explanation  # doctest: +NORMALIZE_WHITESPACE
'Kali Test at 166 cm: Siaga 3 (150/200/260 cm), rising 48 cm/h,
 Siaga 2 in about 40 minutes, since 14:15'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone
from zoneinfo import ZoneInfo

from detectors.hydromet_faults import FaultParams, FaultTracker
from detectors.hydromet_levels import LevelParams, LevelTracker, rank_name
from detectors.hydromet_signals import (
    SEVERITY_OF_RANK,
    area_ring,
    cap_terms,
    eta_phrase,
    evidence_ref,
    fault_signal,
    hhmm,
    rain_signal,
)
from detectors.rain import RainTracker, daily_class, hourly_class
from kendali.city import FloodArea, Gauge
from kendali.records import HydrometReading, Signal

__all__ = ["HydrometBank", "HydrometParams"]

_BASIS_ORDER = {"rain": 0, "upstream": 1, "trend": 2, "observed": 3}


@dataclass(frozen=True, slots=True)
class HydrometParams:
    """Tuning of the bank; every default is documented in ``docs/hydromet.md``."""

    level: LevelParams = field(default_factory=LevelParams)
    faults: FaultParams = field(default_factory=FaultParams)
    #: A flood episode clears once the assessment has been normal this long (minutes).
    clear_after_min: float = 60.0
    #: Downstream expects the upstream rank minus this (0: the same Siaga rank arrives).
    upstream_rank_offset: int = 0
    #: Heavy rain counts for the gauges it feeds for this long after it fell (minutes).
    rain_lead_min: float = 120.0
    #: Projection ETAs are bucketed to this many minutes to decide whether to update.
    eta_step_min: float = 15.0


@dataclass(slots=True)
class _Assessment:
    rank: int
    basis: str
    eta_min: float | None = None
    via: str | None = None  # the upstream or rain station behind an expectation


@dataclass(slots=True)
class _GaugeState:
    faults: FaultTracker
    level: LevelTracker | None = None
    rain: RainTracker | None = None
    last_ts: datetime | None = None
    history: list[tuple[float, int]] = field(default_factory=list)  # (t, rank) per reading
    episode: str | None = None
    since: datetime | None = None
    quiet_since: float | None = None
    material: tuple = ()
    fault_episodes: dict[str, str] = field(default_factory=dict)
    rain_episode: str | None = None


def _siaga(g: Gauge) -> tuple[float, float, float] | None:
    """(Siaga 3, 2, 1) of a gauge that has all three, else None."""
    if g.siaga3_cm and g.siaga2_cm and g.siaga1_cm:
        return (g.siaga3_cm, g.siaga2_cm, g.siaga1_cm)
    return None


def _t(ts: datetime) -> float:
    return ts.timestamp()


def _stamp(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class HydrometBank:
    """All gauges of one city; ``process`` takes readings, ``tick`` notices silence.

    Args:
        gauges: the city's gauges by id (``City.gauges``).
        flood_areas: flood-prone polygons by id (``City.flood_areas``), for signal areas.
        tz: the city's time zone, for the "since HH:MM" of explanations and rain days.
        params: tuning; defaults suit 5-60 minute telemetry.
    """

    def __init__(
        self,
        gauges: Mapping[str, Gauge],
        flood_areas: Mapping[str, FloodArea],
        tz: ZoneInfo | timezone,
        params: HydrometParams | None = None,
    ):
        self.gauges = dict(gauges)
        self.params = params or HydrometParams()
        self.tz = tz
        self._state = {gid: self._new_state(g) for gid, g in self.gauges.items()}
        self._configure(flood_areas)
        #: Readings refused: unknown station, or not newer than the station's last reading.
        self.refused: dict[str, int] = {"unknown_station": 0, "out_of_order": 0}

    def _configure(self, flood_areas: Mapping[str, FloodArea]) -> None:
        """What follows from the gauges' configuration: signal areas and who feeds whom."""
        self._areas = {
            g.id: area_ring(flood_areas[g.flood_area].geometry)
            for g in self.gauges.values()
            if g.flood_area and g.flood_area in flood_areas
        }
        self._downstream: dict[str, list[str]] = {gid: [] for gid in self.gauges}
        for g in self.gauges.values():
            if g.upstream in self._downstream:
                self._downstream[g.upstream].append(g.id)
            for fed in g.feeds:
                if fed in self.gauges and fed not in self._downstream[g.id]:
                    self._downstream[g.id].append(fed)

    def adopt(
        self, gauges: Mapping[str, Gauge], flood_areas: Mapping[str, FloodArea], now: datetime
    ) -> list[Signal]:
        """Take the city's current gauges (after a restart from a snapshot taken under an older
        configuration); returns the signals that closes.

        New gauges are watched from their first reading, changed Siaga thresholds apply at
        once, and gauges no longer given are retired: their open flood, fault and rain
        episodes are cleared as of ``now`` and they are never reported silent.
        """
        out: list[Signal] = []
        for gid in sorted(set(self._state) - set(gauges)):
            state = self._state[gid]
            if state.episode is not None:
                out.append(self._flood_signal(gid, _Assessment(0, "observed"), "clear", now))
            out += [self._fault_signal(gid, f, "clear", now) for f in sorted(state.faults.active)]
            if state.rain_episode is not None:
                out.append(self._rain_signal(gid, "clear", now))
            del self._state[gid]
        self.gauges = dict(gauges)
        for gid, g in self.gauges.items():
            state = self._state.get(gid)
            if state is None:
                self._state[gid] = self._new_state(g)
            elif state.level is None or _siaga(g) is None:
                state.level = self._level(g)
            else:  # keep the level history, take the new thresholds
                state.level.thresholds = tuple(map(float, _siaga(g)))
        self._configure(flood_areas)
        return out

    def _new_state(self, g: Gauge) -> _GaugeState:
        return _GaugeState(faults=FaultTracker(self.params.faults), level=self._level(g),
                           rain=RainTracker())  # fmt: skip

    def _level(self, g: Gauge) -> LevelTracker | None:
        """A level tracker for a gauge with all three Siaga thresholds, else None."""
        thresholds = _siaga(g)
        return LevelTracker(thresholds, self.params.level) if thresholds else None

    # -- the DetectorBank contract -------------------------------------------------------

    def process(self, readings: Sequence[HydrometReading]) -> list[Signal]:
        """Take readings (event-time order per station) and return the signals they cause."""
        out: list[Signal] = []
        for r in readings:
            out.extend(self._one(r))
        return out

    def tick(self, now: datetime) -> list[Signal]:
        """Silence faults, and clearing of episodes whose expectations have expired."""
        out: list[Signal] = []
        t = _t(now)
        for gid, state in self._state.items():
            if state.faults.silence_due(t):
                out.append(self._fault_signal(gid, "silence", "open", now))
            if state.episode is not None:
                out.extend(self._reassess(gid, now))
        return out

    # -- one reading ---------------------------------------------------------------------

    def _one(self, r: HydrometReading) -> list[Signal]:
        state = self._state.get(r.station)
        if state is None:
            self.refused["unknown_station"] += 1
            return []
        if state.last_ts is not None and r.ts <= state.last_ts:
            self.refused["out_of_order"] += 1
            return []
        state.last_ts = r.ts
        t = _t(r.ts)
        level = r.level_cm if state.level is not None else None
        event = state.faults.observe(t, level, r.interval_s)
        out = self._fault_event(r.station, event, r.ts) if event else []
        if event and event.startswith("cleared:") and state.level is not None:
            state.level.forget_trend()  # the values before a gap or a fault say nothing now
        if level is not None and not state.faults.stale:
            state.level.update(t, level, r.interval_s)
        if level is not None:
            state.history.append((t, 0 if state.faults.stale else state.level.rank))
            self._prune_history(state, t)
        if r.rain_mm is not None:
            local = r.ts.astimezone(self.tz)
            state.rain.update(t, r.rain_mm, day=local.day, month=local.month)
            out.extend(self._rain_warning(r.station, r.ts))
        for gid in (r.station, *self._downstream[r.station]):
            out.extend(self._reassess(gid, r.ts))
        return out

    def _prune_history(self, state: _GaugeState, t: float) -> None:
        keep_s = 48 * 3600.0
        while state.history and state.history[0][0] < t - keep_s:
            state.history.pop(0)

    # -- assessment ----------------------------------------------------------------------

    def _assess(self, gid: str, now: datetime) -> _Assessment:
        state, t = self._state[gid], _t(now)
        found = [_Assessment(0, "observed")]
        lv = state.level
        if lv is not None and lv.level_cm is not None and not state.faults.stale:
            found.append(_Assessment(lv.rank, "observed"))
            proj = lv.projection()
            if proj is not None:
                found.append(_Assessment(proj[0], "trend", proj[1]))
        found.extend(self._expectations(gid, t))
        return max(found, key=lambda a: (a.rank, _BASIS_ORDER[a.basis]))

    def _expectations(self, gid: str, t: float) -> list[_Assessment]:
        g, out = self.gauges[gid], []
        if g.upstream in self._state and g.travel_min:
            up = self._state[g.upstream]
            window = t - g.travel_min * 60.0
            recent = [(ut, rank) for ut, rank in up.history if ut >= window]
            rank = max((rank for _, rank in recent), default=0) - self.params.upstream_rank_offset
            if rank >= 1:
                first = min(ut for ut, r in recent if r - self.params.upstream_rank_offset >= rank)
                eta = max(0.0, g.travel_min - (t - first) / 60.0)
                out.append(_Assessment(rank, "upstream", round(eta, 1), g.upstream))
        for rid, other in self.gauges.items():
            if gid in other.feeds:
                rank = self._rain_rank(self._state[rid], t)
                if rank:
                    out.append(_Assessment(rank, "rain", None, rid))
        return out

    def _rain_rank(self, state: _GaugeState, t: float) -> int:
        if not state.rain.recent or state.rain.recent[-1][0] < t - self.params.rain_lead_min * 60:
            return 0
        cls = hourly_class(state.rain.accumulations()["1h"])
        return {"heavy": 1, "very heavy": 2}.get(cls, 0)

    def _reassess(self, gid: str, now: datetime) -> list[Signal]:
        state, a = self._state[gid], self._assess(gid, now)
        if state.level is None and a.basis != "rain":
            return []
        if a.rank == 0:
            return self._maybe_clear(gid, state, now)
        state.quiet_since = None
        eta_bucket = None if a.eta_min is None else round(a.eta_min / self.params.eta_step_min)
        material = (a.rank, a.basis, a.via, state.level and state.level.rank, eta_bucket)
        if state.episode is None:
            state.episode, state.since = f"gauge:{gid}:flood:{_stamp(now)}", now
            state.material = material
            return [self._flood_signal(gid, a, "open", now)]
        if material != state.material:
            state.material = material
            return [self._flood_signal(gid, a, "update", now)]
        return []

    def _maybe_clear(self, gid: str, state: _GaugeState, now: datetime) -> list[Signal]:
        if state.episode is None:
            return []
        t = _t(now)
        if state.quiet_since is None:
            state.quiet_since = t
        if t - state.quiet_since < self.params.clear_after_min * 60:
            return []
        signal = self._flood_signal(gid, _Assessment(0, "observed"), "clear", now)
        state.episode, state.since, state.quiet_since, state.material = None, None, None, ()
        return [signal]

    # -- signals -------------------------------------------------------------------------

    def _flood_signal(self, gid: str, a: _Assessment, st: str, now: datetime) -> Signal:
        g, state = self.gauges[gid], self._state[gid]
        urgency, certainty = cap_terms(a.basis, a.eta_min)
        details = self._details(gid, a)
        evidence = [evidence_ref(gid, state.last_ts)] if state.last_ts else []
        if a.via and self._state[a.via].last_ts:
            evidence.append(evidence_ref(a.via, self._state[a.via].last_ts))
        return Signal(
            source="hydromet",
            kind="incident",
            category="flood",
            key=f"gauge:{gid}",
            episode=state.episode,
            state=st,
            ts=now,
            lat=g.lat,
            lon=g.lon,
            score=round(min(1.0, max(a.rank / 3.0, details.get("level_ratio", 0.0))), 3),
            severity=SEVERITY_OF_RANK[a.rank],
            explanation=self._explain(gid, a, st),
            evidence=tuple(evidence),
            area=self._areas.get(gid),
            urgency=urgency,
            certainty=certainty,
            details=details,
        )

    def _details(self, gid: str, a: _Assessment) -> dict:
        g, lv = self.gauges[gid], self._state[gid].level
        d = {"station": gid, "assessed": rank_name(a.rank), "basis": a.basis, "eta_min": a.eta_min}
        d["next_level"] = rank_name(a.rank) if a.basis != "observed" else None
        d["via"] = a.via
        if lv is not None and lv.level_cm is not None:
            d["level_cm"] = lv.level_cm
            d["rise_cm_per_h"] = round(lv.rise_cm_per_h(), 1)
            d["siaga"] = rank_name(lv.rank)
            d["thresholds_cm"] = list(lv.thresholds)
            d["level_ratio"] = round(lv.level_cm / g.siaga1_cm, 3)
        return d

    def _explain(self, gid: str, a: _Assessment, st: str) -> str:
        g, state, lv = self.gauges[gid], self._state[gid], self._state[gid].level
        parts = [g.name]
        if lv is not None and lv.level_cm is not None:
            th = "/".join(f"{x:g}" for x in lv.thresholds)
            parts = [f"{g.name} at {lv.level_cm:g} cm: {rank_name(lv.rank)} ({th} cm)"]
            rate = lv.rise_cm_per_h()
            parts.append(f"rising {rate:.0f} cm/h" if rate >= 1 else "steady or falling")
        if st == "clear":
            parts.append("back to normal")
        elif a.basis == "trend":
            parts.append(f"{rank_name(a.rank)} {eta_phrase(a.eta_min)}")
        elif a.basis == "upstream":
            parts.append(f"upstream {a.via} brings {rank_name(a.rank)} {eta_phrase(a.eta_min)}")
        elif a.basis == "rain":
            mm = self._state[a.via].rain.accumulations()["1h"]
            parts.append(f"{hourly_class(mm)} rain upstream at {a.via} ({mm:g} mm/h)")
        if state.since is not None:
            parts.append(f"since {hhmm(state.since, self.tz)}")
        return ", ".join(parts)

    def _fault_event(self, gid: str, event: str, now: datetime) -> list[Signal]:
        cleared = event.startswith("cleared:")
        fault = event.removeprefix("cleared:")
        return [self._fault_signal(gid, fault, "clear" if cleared else "open", now)]

    def _fault_signal(self, gid: str, fault: str, st: str, now: datetime) -> Signal:
        state = self._state[gid]
        began = datetime.fromtimestamp(
            state.faults.active.get(fault, state.faults.last_t or _t(now)), tz=self.tz
        )
        if st == "open":
            state.fault_episodes[fault] = f"gauge:{gid}:{fault}:{_stamp(began)}"
        episode = state.fault_episodes.pop(fault, None) if st == "clear" else None
        episode = episode or state.fault_episodes.get(fault, f"gauge:{gid}:{fault}")
        return fault_signal(self.gauges[gid], fault, st, now, episode, began, state.last_ts)

    def _rain_warning(self, gid: str, now: datetime) -> list[Signal]:
        state = self._state[gid]
        acc = state.rain.accumulations()
        hourly, daily = hourly_class(acc["1h"]), daily_class(acc["24h"])
        warn = hourly == "very heavy" or daily in ("very heavy", "extreme")
        calm = hourly in ("none", "light", "moderate") and daily not in ("very heavy", "extreme")
        if warn and state.rain_episode is None:
            state.rain_episode = f"gauge:{gid}:rain:{_stamp(now)}"
            return [self._rain_signal(gid, "open", now)]
        if calm and state.rain_episode is not None:
            signal = self._rain_signal(gid, "clear", now)
            state.rain_episode = None
            return [signal]
        return []

    def _rain_signal(self, gid: str, st: str, now: datetime) -> Signal:
        state = self._state[gid]
        z = state.rain.anomaly(now.astimezone(self.tz).month)
        acc = state.rain.accumulations()
        return rain_signal(self.gauges[gid], st, now, acc, state.rain_episode, z, self.tz)
