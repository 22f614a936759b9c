"""TrafficBank: rush hour is not an alert, incidents persist and clear, faults are not traffic."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from detectors.traffic import TrafficBank, corridors
from kendali.city import Detector
from kendali.records import TrafficReading

TZ = ZoneInfo("Asia/Makassar")
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=TZ)  # a Monday
STEP = timedelta(minutes=5)
DAY = 288


def det(i: str, up: str | None = None, down: str | None = None) -> Detector:
    return Detector(i, f"X{i}", f"Simpang {i}", "NB", "Jl. Test", -1.2, 116.8, 50, 1800, up, down)


CITY = {"U": det("U", None, "D"), "D": det("D", "U", None)}


def normal(i: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """Occupancy, speed, volume of a detector with a weekday morning peak."""
    t = T0 + i * STEP
    peak = t.weekday() < 5 and 7 <= t.hour < 9
    occ = (35.0 if peak else 10.0) + rng.normal(0, 2)
    speed = (25.0 if peak else 45.0) + rng.normal(0, 2)
    vol = (120.0 if peak else 60.0) + rng.normal(0, 6)
    return max(occ, 0.5), max(speed, 1.0), max(vol, 1.0)


def reading(d: str, i: int, occ: float, speed: float, vol: float) -> TrafficReading:
    return TrafficReading(d, f"X{d}", "NB", T0 + i * STEP, 300, vol, occ, speed)


def history(days: int, dets=("U", "D"), seed: int = 1) -> list[TrafficReading]:
    rng = np.random.default_rng(seed)
    return [reading(d, i, *normal(i, rng)) for i in range(days * DAY) for d in dets]


@pytest.fixture(scope="module")
def trained() -> bytes:
    bank = TrafficBank(CITY, TZ)
    assert bank.process(history(14)) == []
    return pickle.dumps(bank)


def test_recurrent_rush_hour_is_not_an_incident(trained):
    bank = pickle.loads(trained)
    rng = np.random.default_rng(7)
    day = range(14 * DAY, 15 * DAY)  # Monday again, with its usual peak
    out = bank.process([reading(d, i, *normal(i, rng)) for i in day for d in ("U", "D")])
    assert [s for s in out if s.kind == "incident"] == []


def test_blockage_opens_after_persistence_and_clears_on_recovery(trained):
    bank = pickle.loads(trained)
    i0 = 14 * DAY + 12 * 12  # Monday 12:00
    assert bank.process([reading("U", i0, 70, 8, 20), reading("D", i0, 4, 50, 20)]) == []
    opened = bank.process([reading("U", i0 + 1, 75, 6, 15), reading("D", i0 + 1, 3, 50, 15)])
    assert [(s.state, s.category, s.certainty) for s in opened] == [
        ("open", "traffic_incident", "Likely")
    ]
    sig = opened[0]
    assert sig.key == "atcs:U" and sig.episode == "atcs:U:2026-11-16T12:00:00+08:00"
    assert sig.severity in ("Severe", "Extreme") and 0.5 < sig.score <= 1
    assert "Simpang U NB approach (Jl. Test)" in sig.explanation
    assert "occupancy 75% vs usual 10%" in sig.explanation and "since 12:00" in sig.explanation
    assert sig.evidence == ("atcs:U@2026-11-16T12:05:00+08:00",)
    rng = np.random.default_rng(3)
    back = [reading("U", i, *normal(i, rng)) for i in range(i0 + 2, i0 + 6)]
    cleared = bank.process(back)
    assert [(s.state, s.episode) for s in cleared] == [("clear", sig.episode)]


def test_single_interval_blip_is_not_an_incident(trained):
    bank = pickle.loads(trained)
    i0 = 14 * DAY + 150
    rng = np.random.default_rng(5)
    out = bank.process([reading("U", i0, 80, 5, 10)])
    out += bank.process([reading("U", i, *normal(i, rng)) for i in range(i0 + 1, i0 + 5)])
    assert out == []


def test_queue_from_downstream_is_congestion(trained):
    bank = pickle.loads(trained)
    i0 = 14 * DAY + 150
    out = []
    for i in range(i0, i0 + 3):
        out += bank.process([reading("D", i, 80, 5, 10), reading("U", i, 80, 5, 10)])
    cats = {(s.key, s.category) for s in out if s.state == "open"}
    assert cats == {("atcs:U", "congestion"), ("atcs:D", "traffic_incident")}


def test_stuck_detector_is_a_fault_not_an_incident(trained):
    bank = pickle.loads(trained)
    i0 = 14 * DAY + 150
    out = bank.process([reading("U", i, 90, 3, 5) for i in range(i0, i0 + 12)])
    assert {s.kind for s in out if s.state == "open"} <= {"incident", "fault"}
    faults = [s for s in out if s.kind == "fault"]
    assert [s.state for s in faults] == ["open"] and "same values repeated" in faults[0].explanation
    assert all(s.state == "clear" for s in out[out.index(faults[0]) + 1 :])


def test_impossible_values_and_zeros_are_faults(trained):
    bank = pickle.loads(trained)
    i0 = 14 * DAY + 7 * 12 + 6  # Monday 07:30, peak: zero counts are not plausible
    out = bank.process([reading("U", i0, 10, 200, 60)])
    assert [(s.category, s.details["fault"]) for s in out] == [("detector_fault", "impossible")]
    zeros = bank.process([reading("D", i, 0, 0, 0) for i in range(i0, i0 + 5)])
    assert [(s.kind, s.details.get("fault")) for s in zeros] == [("fault", "zeros")]


def test_silence_raises_fault_and_resuming_clears_it(trained):
    bank = pickle.loads(trained)
    last = T0 + (14 * DAY - 1) * STEP
    assert bank.tick(last + timedelta(minutes=10)) == []
    out = bank.tick(last + timedelta(minutes=20))
    assert [(s.key, s.category, s.state) for s in out] == [
        ("atcs:D", "detector_fault", "open"),
        ("atcs:U", "detector_fault", "open"),
    ]
    assert "no data since" in out[0].explanation and bank.tick(last + timedelta(hours=1)) == []
    rng = np.random.default_rng(2)
    back = bank.process([reading("U", 14 * DAY + 5, *normal(14 * DAY + 5, rng))])
    assert [(s.key, s.state, s.episode) for s in back] == [("atcs:U", "clear", out[1].episode)]


def test_deterministic_unknown_ignored_and_subset_banks():
    data = history(3, seed=9)
    data.append(TrafficReading("ZZ", "X", "N", T0, 300, 1.0, 1.0, 1.0))
    a, b = TrafficBank(CITY, TZ), TrafficBank(CITY, TZ)
    assert a.process(data) == b.process(data)
    shard = TrafficBank({"U": CITY["U"]}, TZ)
    assert shard.process(data) == []


def test_state_fits_two_kilobytes_per_detector():
    bank = TrafficBank({f"D{i}": det(f"D{i}") for i in range(100)}, TZ)
    size = len(pickle.dumps(bank._base)) + len(pickle.dumps(bank._faults))
    size += sum(v.nbytes for v in vars(bank).values() if isinstance(v, np.ndarray))
    assert size / 100 <= 2048


def test_corridors_group_linked_detectors():
    assert corridors(CITY | {"Q": det("Q")}) == {"U": "D", "D": "D", "Q": "Q"}


def test_count_only_detectors_report_unusual_flow():
    bank = TrafficBank({"C": det("C")}, TZ)
    rng = np.random.default_rng(4)
    vol = lambda i: 60.0 + rng.normal(0, 4)  # noqa: E731
    train = [TrafficReading("C", "XC", "NB", T0 + i * STEP, 300, vol(i), None, None)
             for i in range(8 * DAY)]  # fmt: skip
    assert bank.process(train) == []
    surge = [TrafficReading("C", "XC", "NB", T0 + i * STEP, 300, 200.0, None, None)
             for i in range(8 * DAY, 8 * DAY + 2)]  # fmt: skip
    out = bank.process(surge)
    assert [(s.category, s.certainty) for s in out] == [("congestion", "Possible")]
    assert out[0].explanation.startswith("Unusual flow (more vehicles than usual) at Simpang C")
    assert "flow 2400 veh/h vs usual 7" in out[0].explanation


def test_stop_and_go_two_bad_of_three_opens(trained):
    bank = pickle.loads(trained)
    i0 = 14 * DAY + 150
    rng = np.random.default_rng(8)
    out = bank.process([reading("U", i0, 75, 6, 15), reading("U", i0 + 1, *normal(i0 + 1, rng))])
    out += bank.process([reading("U", i0 + 2, 78, 5, 15)])
    assert [(s.state, s.episode[-14:]) for s in out] == [("open", "12:30:00+08:00")]


def test_extreme_dip_with_traffic_still_off_opens_at_the_next_reading(trained):
    bank = pickle.loads(trained)
    i0 = 14 * DAY + 150
    out = bank.process([reading("U", i0, 60, 10, 15)])  # far beyond the usual on both measures
    out += bank.process([reading("U", i0 + 1, 15, 36, 50)])  # recovered, not quite to normal
    assert [(s.state, s.episode[-14:]) for s in out] == [("open", "12:30:00+08:00")]
    assert 2.0 <= out[0].details["z"] < 4.0  # on its own this reading is no anomaly
    bank = pickle.loads(trained)
    assert bank.process([reading("U", i, 15, 36, 50) for i in range(i0, i0 + 3)]) == []


def test_extreme_on_one_measure_only_needs_full_persistence(trained):
    bank = pickle.loads(trained)
    i0 = 14 * DAY + 150
    out = bank.process([reading("U", i0, 60, 44, 60)])  # occupancy alone: speed disagrees
    out += bank.process([reading("U", i0 + 1, 15, 36, 50)])
    assert out == []


def test_a_restored_bank_adopts_the_citys_current_detectors(trained):
    """After a restart under an edited city: a new detector is watched (and confirms its
    upstream neighbour), a dropped one is retired with its incident cleared and never called
    silent; nothing is silently ignored."""
    bank = pickle.loads(trained)
    i0 = 14 * DAY + 12 * 12
    bank.process([reading("U", i0, 70, 8, 20), reading("D", i0, 4, 50, 20)])
    opened = bank.process([reading("U", i0 + 1, 75, 6, 15), reading("D", i0 + 1, 3, 50, 15)])
    assert [s.state for s in opened] == ["open"]
    edited = {"D": det("D", None, "N"), "N": det("N", "D", None)}  # U dropped, N added
    now = T0 + (i0 + 2) * STEP
    closed = bank.adopt(edited, now)
    assert [(s.key, s.state) for s in closed] == [("atcs:U", "clear")]
    assert bank.process([reading("U", i0 + 2, 80, 5, 10)]) == []  # retired: ignored
    rng = np.random.default_rng(5)
    learn = [reading(d, i, *normal(i, rng)) for i in range(i0 + 2, i0 + 2 + 2 * DAY) for d in "DN"]
    assert [s for s in bank.process(learn) if s.kind == "incident"] == []
    later = T0 + (i0 + 2 + 2 * DAY) * STEP
    assert [s.key for s in bank.tick(later)] == []  # U is not reported silent
    assert [s.key for s in bank.tick(later + timedelta(hours=1))] == ["atcs:D", "atcs:N"]
    assert bank._down.tolist()[bank._slot["D"]] == bank._slot["N"]  # the new link is used
