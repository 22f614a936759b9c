"""The city simulator: a demo city's detectors, gauges and citizens, plus ground-truth incidents.

:class:`CitySimulator` reads a city (:mod:`kendali.city`) and a scenario
(:mod:`sources.sim_scenario`) and yields records in event-time order, deterministic for a seed
however the calls to :meth:`CitySimulator.events` are split. The stream begins ``backfill``
before ``start`` (a normal past so detectors learn what normal is); the scenario's times count
from ``start``. :func:`run` publishes the backfill as fast as possible, then plays the rest at
``speedup`` times the wall clock until it catches up with real time. Delivery: at most once
(a producer error is the caller's); replaying the same seed yields the same keys and values.

>>> from datetime import datetime, timedelta, timezone
>>> from kendali.city import load_city
>>> from kendali.settings import Settings
>>> city = load_city(Settings().city)
>>> t0 = datetime(2026, 11, 27, 8, 0, tzinfo=city.tz)
>>> sim = CitySimulator(city, seed=1, start=t0)
>>> kinds = {e.topic_kind for e in sim.events(t0 + timedelta(hours=1))}
>>> sorted(kinds)
['complaints', 'hydromet', 'traffic']
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kendali.city import City
from kendali.codec import encode
from kendali.records import Complaint, HydrometReading, TrafficReading
from sources.sim_hydromet import HydrometModel
from sources.sim_reports import ReportMaker
from sources.sim_scenario import Scenario, load_scenario
from sources.sim_traffic import TrafficModel
from sources.sim_truth import TruthBook, TruthIncident, read_truth, write_truth

__all__ = [
    "CitySimulator",
    "SimEvent",
    "TruthIncident",
    "load_scenario",
    "read_truth",
    "run",
    "write_truth",
]

_CHUNK = timedelta(hours=1)
_LOOKAHEAD = timedelta(hours=6)
_RANK = {"traffic": 0, "hydromet": 1, "complaints": 2}


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One record for one topic; ``key`` is the Kafka key (detector, station or report id)."""

    topic_kind: str
    key: str
    record: TrafficReading | HydrometReading | Complaint


class CitySimulator:
    """Streams of a simulated city from ``start - backfill`` on, with the scenario's incidents."""

    def __init__(
        self,
        city: City,
        scenario: Scenario | None = None,
        seed: int = 0,
        *,
        start: datetime,
        backfill: timedelta = timedelta(0),
        interval_s: int | None = None,
        hydromet_interval_s: int | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError(f"start must be timezone-aware, got {start.isoformat()}")
        self.city, self.scenario, self.seed = city, scenario or Scenario(), seed
        self.start, self.origin = start, start - backfill
        streams = self.scenario.streams
        self.interval_s = interval_s or streams.traffic_interval_s
        self.hydromet_interval_s = hydromet_interval_s or streams.hydromet_interval_s
        self.reports = ReportMaker(
            city,
            seed,
            rate_per_hour=streams.reports_per_hour,
            coordinates_share=streams.coordinates_share,
            english_share=streams.english_share,
        )
        self._book = TruthBook(city, self.scenario, start, self.origin, self.reports)
        faults = self._book.faults()
        detectors, gauges = list(city.detectors.values()), list(city.gauges.values())
        missing = streams.missing_rate
        self.traffic = TrafficModel(detectors, city.tz, seed, self.interval_s, missing, faults)
        self.hydromet = HydrometModel(
            gauges, city.tz, seed, self.hydromet_interval_s, missing, streams.storms_per_day, faults
        )
        self._pending: list[tuple[datetime, str, Complaint]] = []
        self._schedule(self._book.plan(self.traffic, self.hydromet))
        self._cursor = self.origin - timedelta(microseconds=1)
        self._next_traffic = -(-int(self.origin.timestamp()) // self.interval_s)
        self._next_hour = int(self.origin.timestamp()) // 3600
        self._compute_hydromet(max(self.start, self._book.horizon()))

    def at(self, minutes: float) -> datetime:
        """The moment ``minutes`` after the scenario's start (negative: in the backfill)."""
        return self._book.at(minutes)

    @property
    def truth(self) -> list[TruthIncident]:
        """Every ground-truth incident planned or already simulated, ordered by start."""
        return self._book.incidents(self.hydromet.episodes)

    def write_truth(self, path) -> int:
        """Write :attr:`truth` as JSON lines (see :func:`sources.sim_truth.write_truth`)."""
        return write_truth(self.truth, path)

    def _schedule(self, reports: list[Complaint]) -> None:
        for report in reports:
            if report.ts >= self.origin:
                heapq.heappush(self._pending, (report.ts, report.id, report))

    def _compute_hydromet(self, until: datetime) -> None:
        self.hydromet.compute_to(until, self.origin)
        self._schedule(self._book.flood_reports(self.hydromet.episodes))

    def events(self, until: datetime) -> Iterator[SimEvent]:
        """Events with timestamps after the previous call's ``until`` and up to this one.

        Consume the iterator fully: events of a partly read hour are not produced again.
        """
        while self._cursor < until:
            end = min(until, self._cursor + _CHUNK)
            batch = self._chunk(end)
            self._cursor = end
            yield from batch

    def _chunk(self, end: datetime) -> list[SimEvent]:
        out = []
        while self._next_traffic * self.interval_s <= end.timestamp():
            ts = datetime.fromtimestamp(self._next_traffic * self.interval_s, tz=self.city.tz)
            out += [
                SimEvent("traffic", r.detector_id, r)
                for r in self.traffic.step(self._next_traffic, ts)
            ]
            self._next_traffic += 1
        self._compute_hydromet(end + _LOOKAHEAD)
        out += [SimEvent("hydromet", r.station, r) for r in self.hydromet.emit(end)]
        while self._next_hour * 3600 <= end.timestamp():
            self._schedule(self.reports.background(self._next_hour))
            self._next_hour += 1
        while self._pending and self._pending[0][0] <= end:
            report = heapq.heappop(self._pending)[2]
            out.append(SimEvent("complaints", report.id, report))
        out.sort(key=lambda e: (e.record.ts, _RANK[e.topic_kind]))
        return out


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _publish(events: Iterator[SimEvent], produce: Callable[[str, bytes, bytes], None]) -> int:
    count = 0
    for event in events:
        produce(event.topic_kind, event.key.encode(), encode(event.record))
        count += 1
    return count


def run(
    simulator: CitySimulator,
    produce: Callable[[str, bytes, bytes], None],
    *,
    speedup: float = 60.0,
    clock: Callable[[], datetime] = _utcnow,
    stop: threading.Event | None = None,
    progress: Callable[[str], None] | None = None,
    until: datetime | None = None,
    tick_s: float = 0.5,
) -> int:
    """Publish the backfill at full speed, then play live until ``stop`` is set (or ``until``).

    Live sim-time is ``min(now, start + speedup * elapsed)``: faster than the wall clock until it
    catches up with real time. Returns the number of events published.
    """
    stop = stop or threading.Event()
    say = progress or (lambda _msg: None)
    count, step = 0, timedelta(hours=6)
    mark = simulator.origin
    while mark < simulator.start and not stop.is_set():
        mark = min(simulator.start, mark + step)
        count += _publish(simulator.events(mark), produce)
        say(f"backfill to {mark.astimezone(simulator.city.tz):%Y-%m-%d %H:%M}: {count} events")
    wall0, caught_up = clock(), False
    while not stop.is_set():
        now = clock()
        sim_now = min(now, simulator.start + (now - wall0) * speedup)
        sim_now = sim_now if until is None else min(sim_now, until)
        count += _publish(simulator.events(sim_now), produce)
        if not caught_up and sim_now >= now:
            caught_up = True
            say(f"simulated clock caught up with real time: {count} events")
        if until is not None and sim_now >= until:
            break
        stop.wait(tick_s)
    return count
