"""Ground truth of a simulation: which incidents were injected, when, where, and who should act.

:class:`TruthBook` turns the scenario into planned effects (a crash's queue, a storm's rain, the
reports an incident causes) and keeps the :class:`TruthIncident` list, adding flood episodes as
the river model finds them. The truth file is JSON lines, one incident per line, timestamps in
ISO 8601 with their offset; :func:`read_truth` reads it back.

>>> import io, tempfile, os
>>> from datetime import datetime, timezone
>>> t = TruthIncident("f1", "fire", "fire", datetime(2026, 1, 1, tzinfo=timezone.utc), None,
...                   -1.25, 116.83, "Pasar Pandansari", None, expected_agencies=("damkar",))
>>> path = os.path.join(tempfile.mkdtemp(), "truth.jsonl")
>>> write_truth([t], path), read_truth(path) == [t]
(1, True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from geo.distance import haversine_m, offset_deg
from kendali.city import City
from kendali.codec import parse_ts
from kendali.records import Complaint
from sources.sim_faults import FaultBook
from sources.sim_hydromet import FloodEpisode, HydrometModel, Storm
from sources.sim_reports import Burst, ReportMaker
from sources.sim_scenario import IncidentSpec, Scenario
from sources.sim_traffic import Crash, TrafficModel

__all__ = ["TruthBook", "TruthIncident", "read_truth", "write_truth"]

#: Citizens report a flood over a wider area and a longer time than a fire.
_FLOOD_RADIUS_M, _FLOOD_SPREAD_MIN = 300.0, 40.0


@dataclass(frozen=True, slots=True)
class TruthIncident:
    """An injected incident. ``end`` is ``None`` while a flood is still above Siaga 3."""

    id: str
    kind: str
    category: str
    start: datetime
    end: datetime | None
    lat: float
    lon: float
    place: str
    zone: str | None
    detectors: tuple[str, ...] = ()
    gauges: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()
    expected_agencies: tuple[str, ...] = ()
    note: str = ""


def write_truth(incidents: list[TruthIncident], path: str | Path) -> int:
    """Write incidents as JSON lines; returns how many were written."""
    with Path(path).open("wb") as f:
        for incident in incidents:
            f.write(orjson.dumps(dataclasses.asdict(incident)) + b"\n")
    return len(incidents)


def read_truth(path: str | Path) -> list[TruthIncident]:
    """Read a truth file written by :func:`write_truth`."""
    out = []
    for line in Path(path).read_bytes().splitlines():
        obj = orjson.loads(line)
        obj["start"] = parse_ts(obj["start"])
        obj["end"] = parse_ts(obj["end"]) if obj["end"] else None
        for name in ("detectors", "gauges", "reports", "expected_agencies"):
            obj[name] = tuple(obj[name])
        out.append(TruthIncident(**obj))
    return out


class TruthBook:
    """Plans the scenario's incidents into the models and records what was injected."""

    def __init__(
        self,
        city: City,
        scenario: Scenario,
        start: datetime,
        origin: datetime,
        reports: ReportMaker,
    ) -> None:
        self.city, self.scenario, self.start, self.origin = city, scenario, start, origin
        self.reports = reports
        self._static: list[TruthIncident] = []
        self._crashes: dict[str, Crash] = {}
        self._detector_ids: list[str] = []
        self._flood_reports: dict[tuple[str, datetime], tuple[str, ...]] = {}

    def at(self, minutes: float) -> datetime:
        """The moment ``minutes`` after the scenario's start (negative: in the backfill)."""
        return self.start + timedelta(minutes=minutes)

    def faults(self) -> FaultBook:
        """The scenario's sensor faults, for the models that produce the readings."""
        return FaultBook(
            [
                (f.sensor, f.kind, self.at(f.at_min), self.at(f.at_min + f.duration_min))
                for f in self.scenario.faults
            ]
        )

    def horizon(self) -> datetime:
        """Up to when the river model must run so that scripted floods are in the truth."""
        ends = [
            self.at(s.at_min + s.duration_min) + timedelta(hours=6) for s in self.scenario.storms
        ]
        return max([self.start, *ends])

    def _incident(
        self,
        id: str,
        kind: str,
        category: str,
        start: datetime,
        end: datetime | None,
        lon: float,
        lat: float,
        place: str,
        **extra,
    ):
        zone = self.city.zone_of(lon, lat)
        agencies = self.city.agencies_for(category, zone)
        return TruthIncident(
            id,
            kind,
            category,
            start,
            end,
            round(lat, 6),
            round(lon, 6),
            place,
            zone,
            expected_agencies=agencies,
            **extra,
        )

    def _reports(self, burst: Burst) -> list[Complaint]:
        """Reports of one incident; place-only ones name a place the city can locate."""
        if self.city.place(burst.place) is None:
            burst = replace(burst, place=self.reports.nearest_place(burst.lon, burst.lat))
        return [r for r in self.reports.burst(burst) if r.ts >= self.origin]

    def plan(self, traffic: TrafficModel, hydromet: HydrometModel) -> list[Complaint]:
        """Install crashes, storms and faults; returns the incident reports to schedule."""
        self._detector_ids = [d.id for d in traffic.detectors]
        out: list[Complaint] = []
        for spec in self.scenario.incidents:
            out += self._plan_incident(spec, traffic)
        rain_ids = {g.id for g in hydromet.rain}
        for s in self.scenario.storms:
            if not set(s.gauges) <= rain_ids:
                unknown = sorted(set(s.gauges) - rain_ids)
                raise ValueError(f"storm {s.id} names unknown rain gauge(s) {unknown}")
            factors = tuple(1.0 if g.id in s.gauges else 0.0 for g in hydromet.rain)
            start, end = self.at(s.at_min), self.at(s.at_min + s.duration_min)
            hydromet.add_storm(Storm(s.id, start, end, s.peak_mm_per_h, factors, s.reports))
        for f in self.scenario.faults:
            start, end = self.at(f.at_min), self.at(f.at_min + f.duration_min)
            self._static.append(self._fault(f.sensor, f.kind, start, end))
        return out

    def _plan_incident(self, spec: IncidentSpec, traffic: TrafficModel) -> list[Complaint]:
        start, end = self.at(spec.at_min), self.at(spec.at_min + spec.duration_min)
        if spec.kind == "crash":
            det = self.city.detectors.get(spec.detector)
            if det is None:
                raise ValueError(f"crash {spec.id} names unknown detector {spec.detector!r}")
            self._crashes[spec.id] = traffic.add_crash(spec, start)
            lon, lat = self._past(det, 80.0)
            place = f"{det.road}, {det.intersection_name} ({det.approach})"
        else:
            lon, lat = (spec.lon, spec.lat) if spec.lat is not None else self._place(spec.place)
            place = spec.place or self.reports.nearest_place(lon, lat)
        burst = Burst(
            spec.id,
            spec.category,
            start,
            lon,
            lat,
            place,
            spec.reports,
            spec.radius_m,
            spec.spread_min,
            spec.category_share,
        )
        reports = self._reports(burst)
        ids = tuple(r.id for r in reports)
        self._static.append(
            self._incident(
                spec.id, spec.kind, spec.category, start, end, lon, lat, place, reports=ids
            )
        )
        return reports

    def _place(self, name: str) -> tuple[float, float]:
        point = self.city.place(name)
        if point is None:
            raise ValueError(f"scenario names unknown place {name!r} (not in places or zones)")
        return point

    def _past(self, det, metres: float) -> tuple[float, float]:
        """A point ``metres`` past a detector toward its downstream neighbour."""
        down = self.city.detectors.get(det.downstream or "")
        gap = haversine_m(det.lon, det.lat, down.lon, down.lat) if down else 0.0
        if gap < 1.0:
            dlon, _ = offset_deg(det.lat, metres)
            return det.lon + dlon, det.lat
        share = metres / gap
        return det.lon + (down.lon - det.lon) * share, det.lat + (down.lat - det.lat) * share

    def _fault(self, sensor: str, kind: str, start: datetime, end: datetime) -> TruthIncident:
        where = self.city.detectors.get(sensor) or self.city.gauges.get(sensor)
        if where is None:
            raise ValueError(f"scenario fault names unknown sensor {sensor!r}")
        is_det = sensor in self.city.detectors
        category = "detector_fault" if is_det else "gauge_fault"
        fault_id = f"fault-{sensor}-{start:%Y%m%dT%H%M}"
        return self._incident(
            fault_id,
            "fault",
            category,
            start,
            end,
            where.lon,
            where.lat,
            f"{sensor} ({kind})",
            detectors=(sensor,) if is_det else (),
            gauges=() if is_det else (sensor,),
            note=f"{kind} sensor",
        )

    def _flood_point(self, episode: FloodEpisode) -> tuple[float, float, str]:
        gauge = self.city.gauges[episode.gauge]
        area = self.city.flood_areas.get(gauge.flood_area or "")
        if area is None:
            return gauge.lon, gauge.lat, gauge.name
        c = area.geometry.centroid
        return c.x, c.y, area.name

    def _wants_reports(self, ep: FloodEpisode) -> bool:
        """Citizens report a flood that passed Siaga 2 in a mapped flood area, if scripted so."""
        area = self.city.gauges[ep.gauge].flood_area
        scripted = ep.storm is not None and ep.storm.reports > 0
        return scripted and ep.siaga2_at is not None and area in self.city.flood_areas

    def flood_reports(self, episodes: list[FloodEpisode]) -> list[Complaint]:
        """Reports for floods newly found by the river model (see :meth:`_wants_reports`)."""
        out: list[Complaint] = []
        for ep in episodes:
            key = (ep.gauge, ep.start)
            if key in self._flood_reports or not self._wants_reports(ep):
                continue
            lon, lat, place = self._flood_point(ep)
            burst = Burst(
                f"{ep.storm.id}-{ep.gauge}",
                "flood",
                ep.siaga2_at,
                lon,
                lat,
                place,
                ep.storm.reports,
                _FLOOD_RADIUS_M,
                _FLOOD_SPREAD_MIN,
            )
            reports = self._reports(burst)
            self._flood_reports[key] = tuple(r.id for r in reports)
            out += reports
        return out

    def _flood(self, ep: FloodEpisode) -> TruthIncident:
        gauge = self.city.gauges[ep.gauge]
        lon, lat, place = self._flood_point(ep)
        levels = ((1, gauge.siaga1_cm), (2, gauge.siaga2_cm), (3, 0.0))
        level = next(n for n, cm in levels if ep.peak_cm >= cm)
        cause = f", {ep.storm.id}" if ep.storm else ""
        flood_id = f"flood-{ep.gauge}-{ep.start:%Y%m%dT%H%M}"
        return self._incident(
            flood_id,
            "flood",
            "flood",
            ep.start,
            ep.end,
            lon,
            lat,
            place,
            gauges=(ep.gauge,),
            reports=self._flood_reports.get((ep.gauge, ep.start), ()),
            note=f"peak {ep.peak_cm:.0f} cm (Siaga {level}){cause}",
        )

    def _with_queue(self, incident: TruthIncident) -> TruthIncident:
        """A crash lists the detectors its queue has reached so far, then the one past it."""
        if incident.id not in self._crashes:
            return incident
        crash = self._crashes[incident.id]
        down = [] if crash.downstream is None else [crash.downstream]
        detectors = (self._detector_ids[i] for i in [crash.chain[0][0], *crash.reached, *down])
        return replace(incident, detectors=tuple(dict.fromkeys(detectors)))

    def incidents(self, episodes: list[FloodEpisode]) -> list[TruthIncident]:
        """Planned incidents plus every flood episode found so far, ordered by start."""
        planned = [self._with_queue(t) for t in self._static]
        seen = [ep for ep in episodes if ep.end is None or ep.end >= self.origin]
        return sorted([*planned, *map(self._flood, seen)], key=lambda t: (t.start, t.id))
