"""Routing decoded records to the keys of the detector banks, one source batch at a time.

The ATCS stream is most of the volume, so it never travels through the dataflow one reading per
item: each source batch becomes one :class:`TrafficBatch` per (shard, partition) and one
:class:`SeriesBatch` with the newest point per sensor. Bytewax's per-item cost (about a
microsecond per operator) is then paid per batch, not per reading. Unknown detectors, stations
and reports that cannot be located become dead letters here.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Any

from detectors.reports import report_key
from detectors.traffic import TrafficBank, corridors
from flows.bank_logic import Tick
from geo.locate import locate
from kendali.actions import Action
from kendali.city import City
from kendali.records import DeadLetter, Signal, TrafficReading
from sinks.redis_series import SensorPoint
from sources.kafka_decode import Decoded

__all__ = ["Router", "SeriesBatch", "TrafficBatch"]


@dataclass(frozen=True, slots=True)
class TrafficBatch:
    """The readings of one source batch for one traffic shard, from one partition."""

    shard: str
    partition: int | None
    readings: list[TrafficReading]


@dataclass(frozen=True, slots=True)
class SeriesBatch:
    """The newest point per sensor in one source batch (for sparklines and freshness)."""

    points: list[SensorPoint]


def _traffic_point(r: TrafficReading) -> SensorPoint:
    values = {"volume": r.volume, "occupancy": r.occupancy, "speed": r.speed}
    return SensorPoint("atcs", f"atcs:{r.detector_id}", r.ts.timestamp(), values)


def _point(item: Decoded) -> SensorPoint | None:
    rec = item.record
    if item.stream == "hydromet":
        values = {"level_cm": rec.level_cm, "rain_mm": rec.rain_mm}
        return SensorPoint("hydromet", f"gauge:{rec.station}", rec.ts.timestamp(), values)
    if item.stream == "complaints":
        return SensorPoint("reports", "reports", rec.ts.timestamp(), {})
    return None


class Router:
    """Known-entity checks and bank keys for every stream of one city."""

    def __init__(self, city: City, traffic_shards: int):
        self.city = city
        self.shard_of = {
            det: f"traffic-{zlib.crc32(chain.encode()) % traffic_shards}"
            for det, chain in corridors(city.detectors).items()
        }
        self.zones = (*(z.name for z in city.zones), "outside")

    def traffic_bank(self, first: TrafficReading) -> TrafficBank:
        """The bank of the first reading's shard, holding exactly that shard's detectors."""
        shard = self.shard_of[first.detector_id]
        mine = {d: det for d, det in self.city.detectors.items() if self.shard_of[d] == shard}
        return TrafficBank(mine, self.city.tz)

    def batch(self, items: list[Decoded | DeadLetter]) -> list[Any]:
        """One decoded source batch → dead letters, non-ATCS items, traffic and series batches."""
        out: list[Any] = []
        groups: dict[tuple[str, int | None], list[TrafficReading]] = {}
        newest: dict[str, TrafficReading] = {}
        points: list[SensorPoint] = []
        shard_of = self.shard_of
        for item in items:
            if type(item) is not Decoded:
                out.append(item)
            elif item.stream == "traffic":
                reading = item.record
                shard = shard_of.get(reading.detector_id)
                if shard is None:
                    out.append(item.reject(f"unknown detector {reading.detector_id!r}"))
                    continue
                groups.setdefault((shard, item.partition), []).append(reading)
                seen = newest.get(reading.detector_id)
                if seen is None or reading.ts >= seen.ts:
                    newest[reading.detector_id] = reading
            else:
                out.append(item)
                point = _point(item)
                if point is not None:
                    points.append(point)
        out.extend(TrafficBatch(s, p, rs) for (s, p), rs in groups.items())
        points.extend(_traffic_point(r) for r in newest.values())
        if points:
            out.append(SeriesBatch(points))
        return out

    def hydromet(self, item: Decoded):
        reading = item.record
        if reading.station not in self.city.gauges:
            return item.reject(f"unknown station {reading.station!r}")
        return ("hydromet", (item.partition, reading))

    def complaints(self, item: Decoded):
        located = locate(item.record, self.city)
        if isinstance(located, str):
            return item.reject(located)
        report = replace(item.record, lat=located.lat, lon=located.lon)
        return (report_key(report), (item.partition, report))

    def zone(self, item: Signal | Tick) -> list[tuple[str, tuple[None, Signal | Tick]]]:
        """A signal goes to its zone's incident book; a bank's clock tick goes to every book."""
        if type(item) is Tick:
            return [(zone, (None, item)) for zone in self.zones]
        if item.zone is None:
            item = replace(item, zone=self.city.zone_of(item.lon, item.lat))
        return [(item.zone or "outside", (None, item))]

    @staticmethod
    def action(item: Decoded) -> tuple[str, tuple[None, Action]]:
        """Operator actions go to the incident book of their incident's zone (as signals do)."""
        return (item.record.zone or "outside", (None, item.record))
