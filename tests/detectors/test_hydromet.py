"""HydrometBank: Siaga episodes, projections, upstream and rain expectations, faults, pickling."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from shapely.geometry import box

from detectors.hydromet import HydrometBank, HydrometParams
from detectors.hydromet_faults import FaultParams
from kendali.city import FloodArea, Gauge, load_city
from kendali.records import CAP_CERTAINTY, CAP_SEVERITY, CAP_URGENCY, HydrometReading
from kendali.settings import Settings

WITA = ZoneInfo("Asia/Makassar")
T0 = datetime(2026, 11, 27, 14, 0, tzinfo=WITA)
UP = Gauge("UP", "Hulu", "river", -1.23, 116.87, 120.0, 170.0, 220.0)
DOWN = Gauge("DOWN", "Hilir", "river", -1.25, 116.87, 150.0, 200.0, 260.0, "UP", 35.0, (), "fa1")
RAIN = Gauge("ARG", "Penakar", "rain", -1.22, 116.86, feeds=("UP",))
AREAS = {"fa1": FloodArea("fa1", "Rawan banjir", box(116.86, -1.26, 116.88, -1.24))}


def bank(**params) -> HydrometBank:
    gauges = {g.id: g for g in (UP, DOWN, RAIN)}
    return HydrometBank(gauges, AREAS, WITA, HydrometParams(**params) if params else None)


def levels(station: str, values, start=T0, step_min=15) -> list[HydrometReading]:
    return [
        HydrometReading(
            station, "river", start + timedelta(minutes=step_min * i), step_min * 60, level_cm=v
        )
        for i, v in enumerate(values)
    ]


def floods(signals, key="gauge:DOWN"):
    return [s for s in signals if s.category == "flood" and s.key == key]


def test_rising_river_opens_projects_escalates_and_clears():
    b = bank()
    rise = [100, 130, 160, 190, 215, 240]
    fall = [200, 150, 120, 100, 90, 80, 80, 80, 80, 80]
    out = floods(b.process(levels("DOWN", rise + fall)))
    assert out[0].state == "open" and out[-1].state == "clear"
    assert len({s.episode for s in out}) == 1
    extreme = [s for s in out if s.severity == "Extreme"]
    assert extreme and {s.details["basis"] for s in extreme} == {"trend"}  # 240 cm, +100 cm/h
    projected = [s for s in out if s.details["basis"] == "trend"]
    assert projected and projected[0].details["eta_min"] is not None
    assert "in about" in projected[0].explanation
    first_severe = next(s for s in out if s.severity == "Severe")
    assert first_severe.details["level_cm"] < 200  # warned before the river reached Siaga 2
    opened = out[0]
    assert opened.area == tuple(
        (round(x, 6), round(y, 6)) for x, y in AREAS["fa1"].geometry.exterior.coords
    )
    assert opened.evidence[0] == f"gauge:DOWN@{(T0 + timedelta(minutes=15)).isoformat()}"
    assert "\n" not in opened.explanation and "since 14:" in opened.explanation


def test_hysteresis_hovering_at_a_threshold_does_not_flap():
    b = bank()
    out = floods(b.process(levels("DOWN", [140, 151, 147, 152, 146, 150, 148, 151] * 3)))
    assert [s.state for s in out].count("open") == 1
    assert all(s.state != "clear" for s in out)


def test_steady_river_below_siaga_gives_nothing():
    assert bank().process(levels("DOWN", [80, 82, 81, 83, 80, 82])) == []


def test_upstream_siaga_raises_downstream_expectation_with_travel_time():
    b = bank()
    out = b.process(levels("UP", [60, 90, 130, 175, 180]))
    down = floods(out)
    assert down, "downstream gauge must hear of the upstream rise"
    last = down[-1]
    assert last.details["basis"] == "upstream" and last.details["via"] == "UP"
    assert last.severity == "Severe" and last.urgency == "Expected"
    assert 0 < last.details["eta_min"] <= 35
    assert any(e.startswith("gauge:UP@") for e in last.evidence)


def test_heavy_rain_on_a_feeding_catchment_and_very_heavy_rain_warning():
    b = bank()
    rain = [
        HydrometReading("ARG", "rain", T0 + timedelta(hours=h), 3600, rain_mm=mm)
        for h, mm in enumerate([2.0, 12.0, 30.0, 3.0])
    ]
    out = b.process(rain)
    up = floods(out, "gauge:UP")
    assert up and up[0].details["basis"] == "rain" and up[0].certainty == "Possible"
    warnings = [s for s in out if s.category == "weather_warning"]
    assert [s.state for s in warnings] == ["open", "clear"]
    assert warnings[0].details["hourly_class"] == "very heavy"


def test_flat_line_is_a_fault_not_a_flood():
    b = bank(faults=FaultParams(flat_line_min=180))
    out = b.process(levels("DOWN", [250.0] * 20))
    faults = [s for s in out if s.kind == "fault"]
    assert [(s.category, s.details["fault"], s.state) for s in faults] == [
        ("gauge_fault", "flat_line", "open")
    ]
    flood = floods(out)
    assert flood[0].state == "open" and flood[-1].state == "clear"  # stale values stop counting


def test_impossible_jump_is_refused_and_cleared():
    out = bank().process(levels("DOWN", [100, 101, 900, 102, 103, 104]))
    faults = [(s.details["fault"], s.state) for s in out if s.kind == "fault"]
    assert faults == [("jump", "open"), ("jump", "clear")]
    assert floods(out) == []


def test_silence_opens_on_tick_and_clears_on_next_reading():
    b = bank()
    b.process(levels("DOWN", [100, 101]))
    assert b.tick(T0 + timedelta(minutes=60)) == []
    silent = b.tick(T0 + timedelta(minutes=200))
    assert [(s.kind, s.details["fault"], s.state) for s in silent] == [("fault", "silence", "open")]
    assert b.tick(T0 + timedelta(minutes=260)) == []
    back = b.process(levels("DOWN", [102], start=T0 + timedelta(minutes=270)))
    assert [(s.details["fault"], s.state) for s in back] == [("silence", "clear")]
    assert back[0].episode == silent[0].episode


def test_unknown_and_out_of_order_readings_are_counted_not_used():
    b = bank()
    b.process(levels("NOPE", [1]) + levels("DOWN", [100, 101]) + levels("DOWN", [300]))
    assert b.refused == {"unknown_station": 1, "out_of_order": 1}


def test_deterministic_and_picklable_mid_episode():
    readings = levels("DOWN", [100, 150, 190, 230, 240, 200, 120, 90, 90, 90, 90, 90, 90])
    a, b = bank(), bank()
    first = a.process(readings[:5])
    b.process(readings[:5])
    restored = pickle.loads(pickle.dumps(a))
    assert restored.process(readings[5:]) == b.process(readings[5:])
    assert first[0].episode == bank().process(readings[:5])[0].episode


def test_demo_city_gauges_work_with_the_bank():
    city = load_city(Settings().city)
    b = HydrometBank(city.gauges, city.flood_areas, city.tz)
    out = b.process(levels("AMPAL-MTH", [120, 160, 200, 240, 270]))
    flood = floods(out, "gauge:AMPAL-MTH")
    assert flood and flood[0].area is not None
    assert flood[-1].severity == "Extreme"


@pytest.mark.parametrize("values", [[100, 120, 140], [300, 200, 100]])
def test_signals_carry_cap_terms(values):
    for s in bank().process(levels("DOWN", values)):
        assert s.severity in CAP_SEVERITY
        assert s.urgency in CAP_URGENCY and s.certainty in CAP_CERTAINTY


def test_a_restored_bank_adopts_the_citys_current_gauges():
    """After a restart under an edited city: a new gauge is watched, a changed Siaga threshold
    applies, and a dropped gauge's open episode is cleared and it is never called silent."""
    b = pickle.loads(pickle.dumps(bank()))
    assert floods(b.process(levels("UP", [100, 190, 230])), "gauge:UP")[0].state == "open"
    new = Gauge("NEW", "Baru", "river", -1.24, 116.88, 50.0, 80.0, 110.0)
    lower = Gauge("DOWN", "Hilir", "river", -1.25, 116.87, 40.0, 60.0, 80.0, None, None, (), "fa1")
    now = T0 + timedelta(minutes=45)
    closed = b.adopt({"DOWN": lower, "NEW": new, "ARG": RAIN}, AREAS, now)
    assert [(s.key, s.state) for s in closed] == [("gauge:UP", "clear")]
    later = levels("NEW", [120, 125], start=now)  # above NEW's Siaga 1: watched at once
    assert floods(b.process(later), "gauge:NEW")[0].state == "open"
    down = floods(b.process(levels("DOWN", [90, 95], start=now)))[-1]  # 90 cm: Siaga 1 now
    assert (down.details["basis"], down.severity) == ("observed", "Extreme")
    assert b.refused["unknown_station"] == 0
    assert all(s.key != "gauge:UP" for s in b.tick(now + timedelta(days=1)))
