"""Router: detector numbers, and a traffic bank restored under an edited city taking its shard's
current detectors."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime

import numpy as np

from benchmarks.throughput_data import base_city, readings, synthetic_city
from detectors.traffic import TrafficBank
from flows.routing import Router, TrafficBatch
from kendali.columns import TrafficColumns
from kendali.records import TrafficReading
from sources.kafka_decode import TrafficDecoded
from sources.traffic_columns import TrafficColumnDecoder
from tests.sources.test_kafka_decode import LIMITS

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


def test_numbered_readings_reach_the_same_slots_as_looked_up_ones():
    """The decoder numbers known detectors once; banks index by number. Signals and bank
    state must be those of finding each reading's slot by its id, unknown ids still dead."""
    city = synthetic_city(base_city(), 300, seed=3)
    route = Router(city, 8)
    values = [v for _, v in readings(city, 60, seed=3, every=50)]
    values[7] = values[7].replace(b'"S00', b'"NOPE')  # an unknown detector
    now = datetime(2026, 11, 3, tzinfo=UTC)
    runs = []
    for known in (route.codes, None):
        decode = TrafficColumnDecoder(LIMITS, known)
        banks: dict[str, TrafficBank] = {}
        signals, dead = [], []
        for start in range(0, len(values), 1000):
            cols, _ = decode(values[start : start + 1000], now, 0)
            expected = [(known or {}).get(d, -1) for d in cols.ids.tolist()]
            assert cols.code.tolist() == expected
            for item in route.batch([TrafficDecoded(cols, lambda i, why: why)]):
                if isinstance(item, TrafficBatch):
                    if item.shard not in banks:
                        banks[item.shard] = route.traffic_bank(item.readings)
                        if known is None:  # ids only: as a bank restored before numbering
                            banks[item.shard] = pickle.loads(pickle.dumps(banks[item.shard]))
                    signals += banks[item.shard].process(item.readings.in_time_order())
                elif isinstance(item, str):
                    dead.append(item)
        assert all((b._slot_by_code is None) == (known is None) for b in banks.values())
        runs.append((signals, dead, {k: _arrays(b) for k, b in banks.items()}))
    assert runs[0][1] == runs[1][1] == ["unknown detector 'NOPE007'"]
    assert any(s.kind == "incident" for s in runs[0][0])
    assert runs[0][0] == runs[1][0]
    assert runs[0][2] == runs[1][2]


def _arrays(bank: TrafficBank) -> dict[str, bytes]:
    """A bank's learned state: every array in it, by attribute path."""
    out = {}
    for name, value in vars(bank).items():
        inner = vars(value) if hasattr(value, "__dict__") else {"": value}
        for sub, x in inner.items():
            if isinstance(x, np.ndarray) and name != "_slot_by_code":
                out[f"{name}.{sub}"] = x.tobytes()
    return out


def test_an_adopting_bank_is_numbered_by_the_current_city():
    city = synthetic_city(base_city(), 200, seed=3)
    before = Router(city, 8)
    bank = pickle.loads(pickle.dumps(before.traffic_bank(_first("S00000"))))
    assert bank._slot_by_code is None  # numbers are not kept in snapshots
    detectors = {k: v for k, v in city.detectors.items() if k != "S00001"}
    after = Router(dataclasses.replace(city, detectors=detectors), 8)
    after.adopt_traffic_bank(bank, NOW)
    for det_id, code in after.codes.items():
        assert bank._slot_by_code[code] == bank._slot.get(det_id, -1)
