"""Unit behaviour of the level tracker, fault tracker and rain tracker."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from detectors.hydromet_faults import FaultParams, FaultTracker
from detectors.hydromet_levels import LevelParams, LevelTracker, raw_rank
from detectors.rain import RainTracker, daily_class, hourly_class

TH = (150.0, 200.0, 260.0)


@given(st.lists(st.floats(min_value=0, max_value=400), min_size=1, max_size=60))
def test_rank_is_raw_rank_or_held_by_the_margin(levels):
    t = LevelTracker(TH)
    for i, cm in enumerate(levels):
        rank = t.update(i * 900.0, cm)
        raw = raw_rank(cm, TH)
        assert rank >= raw
        if rank > raw:  # held only while within the margin below the threshold
            assert cm >= TH[rank - 1] - max(
                10.0, 0.1 * (TH[rank - 1] - (TH[rank - 2] if rank >= 2 else 0))
            )


def test_projection_respects_horizon_and_minimum_rise():
    t = LevelTracker(TH, LevelParams(horizon_min=30))
    for i, cm in enumerate([100, 110, 120]):
        t.update(i * 900.0, cm)
    assert t.projection() is None  # 40 cm/h, 45 min to Siaga 3: beyond 30 min
    slow = LevelTracker(TH)
    for i, cm in enumerate([148, 148.5, 149]):
        slow.update(i * 900.0, cm)
    assert slow.rise_cm_per_h() < 5 and slow.projection() is None


def test_trend_window_keeps_two_readings_of_coarse_data():
    t = LevelTracker(TH)
    for i, cm in enumerate([100, 130, 190]):
        t.update(i * 3600.0, cm, interval_s=3600)
    assert t.rise_cm_per_h() == 45.0  # least squares over the last two hours
    t.forget_trend()
    assert t.rise_cm_per_h() == 0.0


def test_fault_tracker_silence_and_jump():
    f = FaultTracker(FaultParams(silence_min=30))
    assert f.observe(0, 100.0, 300) is None
    assert not f.silence_due(1700) and f.silence_due(1900) and not f.silence_due(2500)
    assert f.observe(2600, 100.5, 300) == "cleared:silence"
    assert f.observe(2900, 500.0, 300) == "jump" and f.stale
    assert f.observe(3200, 101.0, 300) is None and f.stale  # back down: still a jump from 500
    assert f.observe(3500, 101.5, 300) == "cleared:jump" and not f.stale


def test_rain_classes_and_monthly_anomaly():
    assert [hourly_class(x) for x in (0, 1, 5, 10, 20)] == [
        "none",
        "light",
        "moderate",
        "heavy",
        "very heavy",
    ]
    assert [daily_class(x) for x in (0.4, 0.5, 20, 50, 100, 150)] == [
        "none",
        "light",
        "moderate",
        "heavy",
        "very heavy",
        "extreme",
    ]
    r = RainTracker()
    for day in range(1, 21):
        r.update(day * 86400.0, 5.0 + day % 3, day=day, month=1)
    assert r.anomaly(1) is not None and abs(r.anomaly(1)) < 2
    r.update(21 * 86400.0 + 3600, 80.0, day=21, month=1)
    assert r.anomaly(1) > 10 and r.anomaly(2) is None
