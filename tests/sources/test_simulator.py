"""The city simulator: determinism, wire validity, realism of each stream, injected incidents."""

from __future__ import annotations

import itertools
import re
import threading
import time
from datetime import datetime, timedelta

import numpy as np
import orjson
import pytest

from geo.distance import haversine_m
from kendali.city import load_city
from kendali.codec import Rejected, decode_complaint, decode_hydromet, decode_traffic, encode
from kendali.settings import Settings
from sources import sim_cli
from sources.sim_scenario import ScenarioError, parse_scenario
from sources.sim_traffic import day_shape
from sources.simulator import CitySimulator, load_scenario, read_truth, run

DECODERS = {"traffic": decode_traffic, "hydromet": decode_hydromet, "complaints": decode_complaint}


@pytest.fixture(scope="module")
def city():
    return load_city(Settings().city)


@pytest.fixture(scope="module")
def scenario(city):
    return load_scenario(city.folder / "scenario.toml")


@pytest.fixture(scope="module")
def start(city):
    return datetime(2026, 11, 27, 15, 0, tzinfo=city.tz)  # a Friday afternoon


@pytest.fixture(scope="module")
def demo(city, scenario, start):
    """One day of backfill and four hours of the demo scenario."""
    sim = CitySimulator(city, scenario, seed=7, start=start, backfill=timedelta(days=1))
    return sim, list(sim.events(start + timedelta(hours=4)))


def _series(events, kind, key, field):
    return {
        e.record.ts: getattr(e.record, field)
        for e in events
        if e.topic_kind == kind and e.key == key
    }


def test_same_seed_same_bytes_however_the_calls_are_split(city, scenario, start):
    def stream(cuts):
        sim = CitySimulator(city, scenario, seed=3, start=start, backfill=timedelta(hours=6))
        return [
            (e.topic_kind, e.key, encode(e.record))
            for cut in cuts
            for e in sim.events(start + timedelta(minutes=cut))
        ]

    whole = stream([180])
    assert whole == stream([-300, -7, 0, 1, 13, 59, 60, 61, 179, 180])
    other = CitySimulator(city, scenario, seed=4, start=start, backfill=timedelta(hours=6))
    assert whole != [
        (e.topic_kind, e.key, encode(e.record)) for e in other.events(start + timedelta(hours=3))
    ]


def test_every_event_passes_the_codec_in_time_order(demo, start):
    sim, events = demo
    assert events[0].record.ts >= sim.origin
    assert [e.record.ts for e in events] == sorted(e.record.ts for e in events)
    now = start + timedelta(hours=4)
    for event in events:
        decoded = DECODERS[event.topic_kind](encode(event.record), now=now)
        assert not isinstance(decoded, Rejected), (event, decoded)
        assert decoded == event.record
        assert decoded.ts.utcoffset() == timedelta(hours=8)


def test_keys_name_the_sensor_or_report(demo):
    _, events = demo
    for event in events:
        record = event.record
        expected = {"traffic": "detector_id", "hydromet": "station", "complaints": "id"}
        assert event.key == getattr(record, expected[event.topic_kind])


def test_day_shape_has_peaks_a_night_and_lighter_weekends():
    def total(hour, weekday):
        return sum(day_shape(hour, weekday))

    assert total(7.5, 1) > 2 * total(3.0, 1)
    assert total(17.25, 1) > total(14.0, 1) > total(3.0, 1)
    assert total(7.5, 6) < 0.8 * total(7.5, 1)
    assert total(12.25, 4) < total(12.25, 3)


def test_traffic_follows_the_fundamental_diagram(city, start):
    sim = CitySimulator(city, None, seed=1, start=start, backfill=timedelta(days=2))
    rows = [e.record for e in sim.events(start) if e.topic_kind == "traffic"]
    for detector in city.detectors:
        mine = [r for r in rows if r.detector_id == detector]
        volume = np.array([r.volume for r in mine])
        occupancy = np.array([r.occupancy for r in mine])
        speed = np.array([r.speed for r in mine])
        assert np.corrcoef(volume, occupancy)[0, 1] > 0.9
        assert np.corrcoef(volume, speed)[0, 1] < -0.5
        busy, quiet = volume > np.quantile(volume, 0.9), volume < np.quantile(volume, 0.1)
        assert speed[busy].mean() < 0.9 * speed[quiet].mean()
    night = [r.volume for r in rows if r.ts.astimezone(city.tz).hour in (2, 3)]
    peak = [r.volume for r in rows if r.ts.astimezone(city.tz).hour in (7, 8)]
    assert np.mean(peak) > 3 * np.mean(night)


def test_about_one_and_a_half_percent_of_readings_are_missing(city, start):
    sim = CitySimulator(city, None, seed=2, start=start, backfill=timedelta(days=2))
    got = sum(e.topic_kind == "traffic" for e in sim.events(start))
    expected = len(city.detectors) * 2 * 288
    assert 0.005 < 1 - got / expected < 0.03


def test_crash_congests_upstream_and_starves_downstream(demo, scenario, start):
    sim, events = demo
    spec = next(i for i in scenario.incidents if i.kind == "crash")
    truth = next(t for t in sim.truth if t.id == spec.id)
    head, upstream, downstream = truth.detectors[0], truth.detectors[1], truth.detectors[-1]
    crash_start, crash_end = truth.start, truth.end

    def mean(key, field, lo, hi):
        values = [v for ts, v in _series(events, "traffic", key, field).items() if lo < ts <= hi]
        return np.mean(values)

    before = (crash_start - timedelta(minutes=40), crash_start)
    during = (crash_start + timedelta(minutes=10), crash_end)
    assert mean(head, "occupancy", *during) > 60 > mean(head, "occupancy", *before)
    assert mean(head, "speed", *during) < 10 < mean(head, "speed", *before)
    assert mean(downstream, "volume", *during) < 0.7 * mean(downstream, "volume", *before)
    late = (crash_end - timedelta(minutes=10), crash_end)
    assert mean(upstream, "occupancy", *late) > 50 > mean(upstream, "occupancy", *before)
    recovered = (crash_end + timedelta(minutes=30), crash_end + timedelta(minutes=60))
    assert mean(head, "speed", *recovered) > 20


def test_storm_raises_the_river_to_siaga_2_within_the_hour_with_a_lag(demo, city, start):
    sim, events = demo
    gauge = city.gauges["AMPAL-HULU"]
    level = _series(events, "hydromet", gauge.id, "level_cm")
    rain = _series(events, "hydromet", "ARG-BATUAMPAR", "rain_mm")
    first_hour = [v for ts, v in level.items() if start <= ts <= start + timedelta(hours=1)]
    assert max(first_hour) >= gauge.siaga2_cm
    assert max(v for ts, v in level.items() if ts < start) < gauge.siaga3_cm
    window = [ts for ts in rain if start <= ts <= start + timedelta(hours=4)]
    rain_peak = max(window, key=rain.get)
    level_peak = max((ts for ts in level if ts in window), key=level.get)
    assert level_peak > rain_peak
    downstream = city.gauges["AMPAL-MTH"]
    floods = {t.gauges[0]: t for t in sim.truth if t.kind == "flood"}
    assert floods[downstream.id].start > floods[gauge.id].start
    assert floods[gauge.id].start <= start + timedelta(hours=1)


def test_background_storms_raise_rivers_but_keep_the_baseline_clean(city, start):
    sim = CitySimulator(city, None, seed=5, start=start, backfill=timedelta(days=7))
    rows = [e.record for e in sim.events(start) if e.topic_kind == "hydromet"]
    rain = [r.rain_mm for r in rows if r.kind == "rain"]
    assert 0 < sum(x > 0 for x in rain) < 0.3 * len(rain)
    assert not [t for t in sim.truth if t.kind == "flood"]
    for gauge in (g for g in city.gauges.values() if g.kind == "river"):
        levels = [r.level_cm for r in rows if r.station == gauge.id]
        assert max(levels) - min(levels) > 5
        assert max(levels) < gauge.siaga3_cm


def test_fire_is_many_reports_close_together(demo, city, start):
    sim, events = demo
    fire = next(t for t in sim.truth if t.kind == "fire")
    ids = set(fire.reports)
    reports = [e.record for e in events if e.topic_kind == "complaints" and e.key in ids]
    assert 15 <= len(reports) == len(fire.reports) <= 40
    assert all(fire.start < r.ts <= fire.start + timedelta(minutes=40) for r in reports)
    for r in reports:
        if r.lat is not None:
            assert haversine_m(fire.lon, fire.lat, r.lon, r.lat) <= 300
        else:
            assert city.place(r.place) is not None
    assert 0 < sum(r.category == "fire" for r in reports) < len(reports)
    assert fire.expected_agencies[0] == "damkar"
    assert fire.start - start < timedelta(minutes=15)


def test_background_reports_mix_languages_categories_and_pseudonyms(demo, city):
    _, events = demo
    reports = [e.record for e in events if e.topic_kind == "complaints"]
    background = [r for r in reports if "-bg-" in r.id]
    assert len(background) > 60
    categories = {r.category for r in background}
    assert {"infrastructure", "public_order", "congestion", None} <= categories
    texts = " ".join(r.text for r in background).lower()
    assert "di " in texts and " at " in texts
    assert any(r.lat is None and city.place(r.place) for r in background)
    for r in reports:
        assert re.fullmatch(r"anon-[0-9a-f]{12}", r.reporter)
        assert not re.search(r"\d{9,}", r.text)


def test_truth_lists_each_injected_kind_and_round_trips(demo, tmp_path):
    sim, _ = demo
    kinds = {t.kind for t in sim.truth}
    assert {"fire", "crash", "flood", "fallen_tree", "fault"} <= kinds
    for t in sim.truth:
        assert t.start.tzinfo is not None and t.expected_agencies and t.zone
    path = tmp_path / "truth.jsonl"
    assert sim.write_truth(path) == len(sim.truth)
    assert read_truth(path) == sim.truth


def test_stuck_detector_repeats_one_reading(demo, scenario):
    sim, events = demo
    fault = scenario.faults[0]
    lo, hi = sim.at(fault.at_min), sim.at(fault.at_min + fault.duration_min)
    values = {
        (e.record.volume, e.record.occupancy, e.record.speed)
        for e in events
        if e.key == fault.sensor and lo <= e.record.ts < hi
    }
    assert len(values) == 1


def test_seven_days_of_backfill_take_a_few_seconds(city, start):
    began = time.perf_counter()
    sim = CitySimulator(city, None, seed=9, start=start, backfill=timedelta(days=7))
    count = sum(len(encode(e.record)) > 0 for e in sim.events(start))
    assert count > 7 * 288 * len(city.detectors) * 0.97
    assert time.perf_counter() - began < 6.0


def test_scenario_errors_name_the_problem(city, start):
    with pytest.raises(ScenarioError, match="unknown key"):
        parse_scenario({"incident": [{"id": "x", "kind": "fire", "at_min": 1, "plcae": "a"}]})
    with pytest.raises(ScenarioError, match="needs a detector"):
        parse_scenario({"incident": [{"id": "x", "kind": "crash", "at_min": 1}]})
    bad = parse_scenario({"incident": [{"id": "x", "kind": "fire", "at_min": 1, "place": "Mars"}]})
    with pytest.raises(ValueError, match="unknown place 'Mars'"):
        CitySimulator(city, bad, start=start)


class FakeClock:
    """Wall clock that moves ``step`` on every reading."""

    def __init__(self, now: datetime, step: timedelta):
        self.now, self.step = now, step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def test_run_backfills_then_plays_faster_than_real_time(city, scenario, start):
    wall = start + timedelta(hours=2)
    sim = CitySimulator(city, scenario, seed=1, start=start, backfill=timedelta(hours=12))
    sent: list[tuple[str, bytes, bytes]] = []
    messages: list[str] = []
    clock = FakeClock(wall, timedelta(seconds=1))
    count = run(
        sim,
        lambda *m: sent.append(m),
        speedup=60,
        clock=clock,
        stop=threading.Event(),
        progress=messages.append,
        until=wall + timedelta(minutes=10),
        tick_s=0,
    )
    assert count == len(sent)
    backfill = [m for m in sent if DECODERS[m[0]](m[2], now=None).ts <= start]
    assert len(backfill) > 12 * 12 * len(city.detectors) * 0.95
    fire = next(t for t in sim.truth if t.kind == "fire")
    assert set(fire.reports) <= {m[1].decode() for m in sent}
    assert any("caught up" in m for m in messages)
    last = DECODERS[sent[-1][0]](sent[-1][2], now=None).ts
    assert last <= wall + timedelta(minutes=10)


def test_run_stops_when_told(city, start):
    sim = CitySimulator(city, None, seed=1, start=start, backfill=timedelta(hours=1))
    stop = threading.Event()
    stop.set()
    assert run(sim, lambda *m: None, clock=FakeClock(start, timedelta(seconds=1)), stop=stop) == 0


def test_crash_truth_lists_the_detectors_its_queue_reached(demo):
    sim, events = demo
    crash = next(t for t in sim.truth if t.kind == "crash")
    queue, downstream = crash.detectors[:-1], crash.detectors[-1]
    assert sim.city.detectors[queue[0]].downstream == downstream
    for here, further in itertools.pairwise(queue):
        assert sim.city.detectors[here].upstream == further
    assert 2 <= len(queue) < 4  # the queue spread upstream, but not without end
    reports = [e.record for e in events if e.key in set(crash.reports)]
    assert len(reports) == 6
    assert all(r.place is None or sim.city.place(r.place) for r in reports)


def test_negative_minutes_put_a_labelled_incident_in_the_backfill(city, start):
    scenario = parse_scenario(
        {
            "incident": [
                {"id": "old-fire", "kind": "fire", "at_min": -600, "place": "E-Walk", "reports": 12}
            ]
        }
    )
    sim = CitySimulator(city, scenario, seed=1, start=start, backfill=timedelta(days=1))
    sent = {e.key for e in sim.events(start)}
    (fire,) = sim.truth
    assert fire.start < start and set(fire.reports) <= sent and len(fire.reports) == 12


def test_offline_cli_writes_events_truth_and_summary(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "--out",
        str(out),
        "--events",
        "--start",
        "2026-11-27T15:00:00+08:00",
        "--backfill-days",
        "0.25",
        "--live-hours",
        "1",
    ]
    assert sim_cli.main(argv) == 0
    lines = [orjson.loads(line) for line in (out / "events.jsonl").read_bytes().splitlines()]
    summary = orjson.loads((out / "summary.json").read_bytes())
    assert sum(summary["events"].values()) == len(lines)
    for line in lines:
        record = DECODERS[line["topic"]](orjson.dumps(line["value"]), now=None)
        assert not isinstance(record, Rejected)
    assert {t.kind for t in read_truth(out / "truth.jsonl")} >= {"fire", "crash", "flood"}
    assert "events/s" in capsys.readouterr().out


def test_offline_cli_errors_are_one_line(tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--start", "2026-11-27T15:00:00"]
    assert sim_cli.main(argv) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_a_silent_gauge_sends_nothing_and_is_in_the_truth(city, start):
    scenario = parse_scenario(
        {"fault": [{"sensor": "KLANDASAN", "kind": "silent", "at_min": 30, "duration_min": 60}]}
    )
    sim = CitySimulator(city, scenario, seed=1, start=start)
    times = [e.record.ts for e in sim.events(start + timedelta(hours=3)) if e.key == "KLANDASAN"]
    gap = [ts for ts in times if sim.at(30) <= ts < sim.at(90)]
    assert not gap and len(times) > 10
    (fault,) = sim.truth
    assert (fault.category, fault.gauges, fault.expected_agencies) == (
        "gauge_fault",
        ("KLANDASAN",),
        ("bpbd",),
    )
