"""Router: a traffic bank restored under an edited city takes its shard's current detectors."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime

from benchmarks.throughput_data import base_city, synthetic_city
from flows.routing import Router
from kendali.columns import TrafficColumns
from kendali.records import TrafficReading

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def _first(det_id: str) -> TrafficColumns:
    return TrafficColumns.from_readings([TrafficReading(det_id, "A", "N", NOW, 60, 1.0, 2.0, 3.0)])


def test_restored_bank_gets_new_detectors_of_its_shard_and_retires_dropped_ones():
    city = synthetic_city(base_city(), 200, seed=3)
    before = Router(city, 8)
    bank = before.traffic_bank(_first("S00000"))
    shard = before.shard_of["S00000"]
    restored = pickle.loads(pickle.dumps(bank))
    dropped = "S00004"  # the tail of S00000's corridor (of five)
    # a new detector downstream of what is now the tail joins the corridor, hence the shard
    added = dataclasses.replace(city.detectors["S00004"], id="S99999", upstream="S00003")
    detectors = {k: v for k, v in city.detectors.items() if k != dropped} | {"S99999": added}
    after = Router(dataclasses.replace(city, detectors=detectors), 8)
    assert after.adopt_traffic_bank(restored, NOW) == []  # nothing open to close
    mine = {d for d, s in after.shard_of.items() if s == shard}
    assert set(restored._slot) == mine and dropped not in restored._slot
    assert after.shard_of["S99999"] == shard and "S99999" in restored._slot
