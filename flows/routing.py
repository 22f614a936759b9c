"""Routing decoded records to the keys of the detector banks, one source batch at a time.

The ATCS stream is most of the volume, so it never travels through the dataflow one reading per
item: each source batch arrives as columns and leaves as one :class:`TrafficBatch` per shard
(columns too) and one ``SeriesColumns`` for the sparklines. Bytewax's per-item cost (about a
microsecond per operator) is then paid per batch, not per reading. Unknown detectors, stations
and reports that cannot be located become dead letters here.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np

from detectors.reports import report_key
from detectors.traffic import TrafficBank, corridors
from flows.bank_logic import Tick
from geo.locate import locate
from kendali.actions import Action
from kendali.city import City, Detector
from kendali.columns import VALUES, TrafficColumns, codes, object_array
from kendali.records import Signal
from sinks.redis_series import SensorPoint, SeriesColumns
from sources.kafka_decode import Decoded, TrafficDecoded

__all__ = ["Router", "SeriesBatch", "TrafficBatch"]


@dataclass(frozen=True, slots=True)
class TrafficBatch:
    """The readings of one source batch for one traffic shard, from one partition."""

    shard: str
    partition: int | None
    readings: TrafficColumns


@dataclass(frozen=True, slots=True)
class SeriesBatch:
    """Sensor points of one source batch (for sparklines and freshness)."""

    points: list[SensorPoint | SeriesColumns]


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
        self.shards = sorted(set(self.shard_of.values()))
        #: Each detector's number (``TrafficColumns.code``): the decoder looks ids up once, and
        #: shards, sensor names and bank slots come from arrays indexed by it.
        self.codes = {det: code for code, det in enumerate(city.detectors)}
        self._shard_no = np.array([self.shards.index(self.shard_of[d]) for d in self.codes])
        self._sensor = object_array([f"atcs:{det}" for det in self.codes])
        self.zones = (*(z.name for z in city.zones), "outside")

    def traffic_bank(self, first: TrafficColumns) -> TrafficBank:
        """The bank of the first batch's shard, holding exactly that shard's detectors."""
        bank = TrafficBank(self._members(self.shard_of[first.ids[0]]), self.city.tz)
        bank.number(self.codes)
        return bank

    def _members(self, shard: str | None) -> dict[str, Detector]:
        """The city's detectors of ``shard``, as its bank holds them."""
        return {d: det for d, det in self.city.detectors.items() if self.shard_of[d] == shard}

    def adopt_traffic_bank(self, bank: TrafficBank, now: datetime) -> list[Signal]:
        """A restored bank takes its shard's current detectors (see ``TrafficBank.adopt``).

        The shard is the one most of the bank's detectors still belong to (a logic does not
        know its key); a bank none of whose detectors are left retires them all.
        """
        shards = Counter(self.shard_of[d] for d in bank.detectors if d in self.shard_of)
        shard = shards.most_common(1)[0][0] if shards else None
        out = bank.adopt(self._members(shard), now)
        bank.number(self.codes)
        return out

    def batch(self, items: list[Any]) -> list[Any]:
        """One decoded source batch → dead letters, non-ATCS items, traffic and series batches."""
        out: list[Any] = []
        points: list[SensorPoint | SeriesColumns] = []
        for item in items:
            if type(item) is TrafficDecoded:
                points.extend(self._traffic(item, out))
            else:
                out.append(item)
                point = _point(item) if type(item) is Decoded else None
                if point is not None:
                    points.append(point)
        if points:
            out.append(SeriesBatch(points))
        return out

    def _traffic(self, item: TrafficDecoded, out: list[Any]) -> list[SeriesColumns]:
        """Split one batch's readings by shard (batch order kept within a shard); readings of
        unknown detectors become dead letters."""
        cols = item.columns
        if (cols.code < 0).any():  # not numbered by the decoder: unknown, or not looked up
            code, missing = cols.code.copy(), np.flatnonzero(cols.code < 0)
            code[missing] = codes(self.codes, cols.ids[missing].tolist())
            for row in np.flatnonzero(code < 0).tolist():
                out.append(item.letter(int(cols.index[row]), f"unknown detector {cols.ids[row]!r}"))
            cols = replace(cols, code=code).take(code >= 0)
        if not len(cols):
            return []
        code = cols.code
        shard = self._shard_no[code]
        order = np.argsort(shard, kind="stable")
        starts = np.flatnonzero(np.r_[True, shard[order][1:] != shard[order][:-1]])
        for rows in np.split(order, starts[1:]):
            out.append(TrafficBatch(self.shards[shard[rows[0]]], cols.partition, cols.take(rows)))
        values = {name: cols.values[:, k] for k, name in enumerate(VALUES)}
        return [SeriesColumns("atcs", self._sensor[code].tolist(), cols.t, values)]

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
