"""The vectorised batch path of TrafficBank gives exactly the signals and state of reading one at a
time, on a long series with incidents, queues and every kind of faulty reading."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.traffic import TrafficBank
from detectors.traffic_batch import distinct_runs
from kendali.city import Detector
from kendali.records import TrafficReading

TZ = ZoneInfo("Asia/Makassar")
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=TZ)  # a Monday
STEP = timedelta(minutes=5)
DAY = 288
CHAINS = 4  # corridors of three detectors A -> B -> C (downstream), plus one count-only
STATE = {
    "bank": ("_last_ts", "_interval", "_z", "_recent", "_run_good", "_cand", "_open", "_sev",
             "_cat"),
    "_base": ("_loc", "_scale", "_count", "_gloc", "_gscale", "_gcount"),
    "_faults": ("code", "since", "_same", "_zeros", "_good", "_last"),
}  # fmt: skip


class OneByOne(TrafficBank):
    """The reference: every reading through the per-reading path, in order."""

    def process(self, readings):
        slots = ((self._slot.get(r.detector_id), r) for r in readings)
        return [sig for slot, r in slots if slot is not None for sig in self._step(slot, r)]


def det(i: str, down: str | None) -> Detector:
    return Detector(i, f"X{i}", f"Simpang {i}", "NB", "Jl. Test", -1.2, 116.8, 50, 1800, None, down)


def city() -> dict[str, Detector]:
    out = {"Q": det("Q", None)}
    for c in range(CHAINS):
        out |= {f"{c}A": det(f"{c}A", f"{c}B"), f"{c}B": det(f"{c}B", f"{c}C")}
        out[f"{c}C"] = det(f"{c}C", None)
    return out


def value(d: str, i: int, rng: np.random.Generator) -> tuple | None:
    """(occupancy, speed, volume) of detector ``d`` at interval ``i``; None = no reading."""
    t = T0 + i * STEP
    peak = t.weekday() < 5 and 7 <= t.hour < 9
    occ, speed, vol = (35.0, 25.0, 120.0) if peak else (10.0, 45.0, 60.0)
    noisy = (occ + rng.normal(0, 2), speed + rng.normal(0, 2), vol + rng.normal(0, 6))
    day, c = i // DAY, d[0]
    if d == "Q":
        return None, None, noisy[2] * (4 if i % 700 < 3 else 1)  # count-only, with surges
    jam = range(5) if d[1] == "A" else range(1, 6) if d[1] == "B" else ()
    if day >= 3 and i % 250 in jam and int(c) % 2 == day % 2 and c != "3":
        return 80.0, 5.0, 15.0  # a blockage at A and, one interval later, a queue from B
    if day >= 3 and i % 250 in range(5) and d == "3A":
        return 80.0, 5.0, 15.0  # a blockage between A and B ...
    if day >= 3 and i % 250 in (245, 246, 247, 248, 249) and d == "3B":
        return None  # ... while B has just come back from a gap
    if i % 997 in range(600, 612) and c == "1":
        return 12.5, 40.0, 9.0  # stuck loops: the same values over and over
    if i % 613 in range(6) and d == "2C":
        return 0.0, None, 0.0  # all-zero at a time when traffic is usual
    if i % 401 == 9 and d[1] == "B":
        return noisy[0], 299.0, noisy[2]  # impossible speed
    if i % 311 == 4 and d == "3A":
        return None  # missing reading
    return noisy


def series(days: int, seed: int) -> list[TrafficReading]:
    """Readings interval by interval, detectors in random order within an interval, plus a few
    duplicates and late readings."""
    rng = np.random.default_rng(seed)
    ids = sorted(city())
    out = []
    for i in range(days * DAY):
        for d in rng.permutation(ids):
            v = value(str(d), i, rng)
            if v is not None:
                out.append(TrafficReading(str(d), f"X{d}", "NB", T0 + i * STEP, 300, v[2], *v[:2]))
        if i % 409 == 8:
            out.append(out[-3])  # a duplicate
    return out


def batches(readings: list, seed: int) -> list[list]:
    rng = np.random.default_rng(seed)
    cuts = np.cumsum(rng.integers(1, 400, len(readings) // 100 + 2))
    return [readings[a:b] for a, b in zip([0, *cuts], cuts, strict=False) if a < len(readings)]


def state_of(bank: TrafficBank) -> dict[str, np.ndarray]:
    parts = {"bank": bank, "_base": bank._base, "_faults": bank._faults}
    return {f"{p}.{n}": getattr(parts[p], n) for p, names in STATE.items() for n in names}


@pytest.fixture(scope="module")
def both() -> tuple[TrafficBank, list, TrafficBank, list]:
    data = series(6, seed=11)
    fast, ref = TrafficBank(city(), TZ), OneByOne(city(), TZ)
    got = [s for batch in batches(data, 3) for s in fast.process(batch)]
    want = [s for batch in batches(data, 3) for s in ref.process(batch)]
    return fast, got, ref, want


def test_signals_are_those_of_one_reading_at_a_time(both):
    _, got, _, want = both
    kinds = {(s.category, s.details.get("fault")) for s in want}
    assert {"stuck", "zeros", "impossible"} <= {fault for _, fault in kinds}
    assert {"traffic_incident", "congestion"} <= {category for category, _ in kinds}
    assert len(want) > 40 and got == want


def test_final_state_is_that_of_one_reading_at_a_time(both):
    fast, _, ref, _ = both
    a, b = state_of(fast), state_of(ref)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-6, err_msg=name)


def test_batch_bank_pickles_and_resumes_like_the_reference():
    data = series(4, seed=5)
    half = len(data) // 2
    bank = TrafficBank(city(), TZ)
    bank.process(data[:half])
    bank = pickle.loads(pickle.dumps(bank))
    ref = OneByOne(city(), TZ)
    ref.process(data[:half])
    assert bank.process(data[half:]) == ref.process(data[half:])


def arrivals(readings: list[TrafficReading], seed: int) -> list[TrafficReading]:
    """The same readings as they might come through several Kafka partitions: each detector's
    in time order, different detectors' up to one interval apart in any order."""
    rng = np.random.default_rng(seed)
    late = rng.uniform(0, 299, len(readings))
    when = [r.ts.timestamp() + lag for r, lag in zip(readings, late, strict=True)]
    return [readings[i] for i in sorted(range(len(readings)), key=when.__getitem__)]


def test_signals_do_not_depend_on_arrival_order_across_detectors():
    data, ref = series(6, seed=13), TrafficBank(city(), TZ)
    want = [s for b in batches(data, 1) for s in ref.process(b)]
    assert {"traffic_incident", "congestion"} <= {s.category for s in want}
    for seed in (2, 3):
        bank = TrafficBank(city(), TZ)
        got = [s for b in batches(arrivals(data, seed), seed) for s in bank.process(b)]
        assert sorted(map(repr, got)) == sorted(map(repr, want))


def _runs_one_by_one(slots: list[int]) -> list[tuple[int, int]]:
    out, seen, start = [], set(), 0
    for i, slot in enumerate(slots):
        if slot in seen:
            out.append((start, i))
            seen, start = set(), i
        seen.add(slot)
    return [*out, (start, len(slots))]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=80))
def test_distinct_runs_cut_where_a_slot_repeats(slots):
    assert distinct_runs(np.array(slots)) == _runs_one_by_one(slots)
