"""The report clusterer: one incident per event, dedup, separation, quiet clearing, determinism."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from detectors.reports import ReportBank, ReportParams, locate, report_key
from geo.distance import offset_deg
from kendali.city import load_city
from kendali.records import Complaint
from kendali.settings import Settings

WITA = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 27, 8, 0, tzinfo=WITA)
CENTRE = (116.8365, -1.2735)  # Lapangan Merdeka


@pytest.fixture(scope="module")
def city():
    return load_city(Settings().city)


def burst(prefix, n, *, at=CENTRE, radius_m=150, minutes=20, text="kebakaran gudang", seed=1,
          start=T0):  # fmt: skip
    rng = np.random.default_rng(seed)
    dlon, dlat = offset_deg(at[1], radius_m)
    out = []
    for i in range(n):
        ang, rad = rng.uniform(0, 2 * np.pi), radius_m * np.sqrt(rng.uniform())
        out.append(
            Complaint(
                f"{prefix}{i}",
                "112",
                start + timedelta(minutes=minutes * i / max(n - 1, 1)),
                text,
                lat=at[1] + dlat * rad / radius_m * np.sin(ang),
                lon=at[0] + dlon * rad / radius_m * np.cos(ang),
            )
        )
    return out


def background(n, *, hours=48, seed=7, city=None):
    """Scattered reports over the demo city's bbox: the noise a real call centre sees."""
    rng = np.random.default_rng(seed)
    times = sorted(rng.uniform(0, hours * 60, n))
    texts = ("lampu jalan mati", "jalan berlubang", "macet parah", "banjir", "parkir liar")
    return [
        Complaint(
            f"bg{i}",
            "app",
            T0 - timedelta(hours=hours) + timedelta(minutes=float(m)),
            texts[i % len(texts)],
            lat=float(rng.uniform(-1.28, -1.15)),
            lon=float(rng.uniform(116.80, 116.95)),
        )
        for i, m in enumerate(times)
    ]


def test_twenty_calls_make_one_incident_that_grows(city):
    signals = ReportBank(city).process(burst("f", 20))
    assert {s.key for s in signals} == {signals[0].key}
    assert signals[0].state == "open" and signals[0].category == "fire"
    assert signals[-1].details["count"] == 20 and len(signals[-1].evidence) == 20
    assert signals[-1].evidence[0] == "report:f0"
    assert signals[-1].area is not None and signals[-1].area[0] == signals[-1].area[-1]
    assert signals[-1].agencies == ("damkar", "police", "health")
    assert signals[-1].severity == "Extreme"  # Severe base, +1 at 10 reports
    assert "\n" not in signals[-1].explanation and "fire" in signals[-1].explanation


def test_single_fire_call_opens_a_possible_incident(city):
    [sig] = ReportBank(city).process(burst("f", 1))
    assert (sig.state, sig.certainty, sig.category) == ("open", "Possible", "fire")
    assert sig.score <= 0.3 and sig.area is None


def test_flood_needs_a_significant_cluster_not_one_report(city):
    bank = ReportBank(city)
    assert bank.process(burst("w", 2, text="banjir setinggi lutut")) == []
    sigs = bank.process(burst("x", 3, text="banjir", start=T0 + timedelta(minutes=25), seed=2))
    assert sigs[0].state == "open" and sigs[0].certainty in ("Likely", "Observed")
    assert sigs[0].details["p_value"] < sigs[0].details["threshold"]


def test_scattered_background_raises_nothing(city):
    signals = ReportBank(city).process(background(400))
    assert [s for s in signals if s.certainty != "Possible"] == []


def test_cluster_is_found_inside_background(city):
    reports = sorted(
        [*background(400), *burst("b", 5, text="banjir", minutes=30)], key=lambda c: c.ts
    )
    signals = ReportBank(city).process(reports)
    opened = [s for s in signals if s.state == "open"]
    assert len(opened) == 1 and opened[0].category == "flood"
    assert opened[0].ts <= T0 + timedelta(minutes=30)


def test_separate_event_nearby_stays_separate(city):
    far = (CENTRE[0] + offset_deg(CENTRE[1], 2000)[0], CENTRE[1])
    reports = sorted(burst("a", 6) + burst("b", 6, at=far, seed=3), key=lambda c: c.ts)
    signals = ReportBank(city).process(reports)
    assert len({s.key for s in signals}) == 2


def test_quiet_cluster_clears_and_next_event_is_new(city):
    bank = ReportBank(city)
    first = bank.process(burst("a", 5))
    assert bank.tick(T0 + timedelta(minutes=30)) == []
    [clear] = bank.tick(T0 + timedelta(hours=2))
    assert clear.state == "clear" and clear.key == first[0].key
    again = bank.process(burst("b", 5, start=T0 + timedelta(hours=3)))
    assert again[0].state == "open" and again[0].key != first[0].key


def test_same_input_gives_same_signals_and_bank_pickles(city):
    reports = burst("a", 8)
    bank = ReportBank(city)
    one = bank.process(reports[:4])
    clone = pickle.loads(pickle.dumps(bank))
    assert clone.process(reports[4:]) == bank.process(reports[4:])
    assert one == ReportBank(city).process(reports[:4])


def test_unlocatable_report_is_counted_and_has_a_reason(city):
    bank = ReportBank(city)
    c = Complaint("u1", "112", T0, "kebakaran di suatu tempat")
    assert bank.process([c]) == [] and bank.unlocated == 1
    assert isinstance(locate(c, city), str)


def test_report_key_is_the_group():
    c = Complaint("k", "112", T0, "ada tabrakan motor", category=None)
    assert report_key(c) == "traffic"
    assert report_key(Complaint("k", "112", T0, "", category="kebakaran")) == "fire"


def test_stricter_recurrence_needs_more_evidence(city):
    lax = ReportBank(city, ReportParams(recurrence_days=1))
    strict = ReportBank(city, ReportParams(recurrence_days=1e12))
    reports = burst("w", 4, text="banjir", radius_m=200, minutes=100)
    assert any(s.state == "open" for s in lax.process(reports))
    assert strict.process(reports) == []


def test_one_caller_repeating_is_one_witness(city):
    same = [
        Complaint(
            f"s{i}",
            "112",
            T0 + timedelta(minutes=i),
            "banjir",
            lat=CENTRE[1],
            lon=CENTRE[0],
            reporter="rp_same",
        )
        for i in range(6)
    ]
    assert ReportBank(city).process(same) == []
    many = [dataclasses.replace(c, reporter=f"rp_{i}") for i, c in enumerate(same)]
    opened = ReportBank(city).process(many)[0].details
    assert opened["reporters"] == opened["count"] >= 3


def weekly_habit(city, weeks=4, per_night=6, per_day=50, seed=5):
    """Scattered reports all week, plus a spot that is busy every Saturday night only."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 11, 2, tzinfo=WITA)  # a Monday
    out = [
        Complaint(f"bg{i}", "app", start + timedelta(minutes=float(m)), "berisik",
                  lat=float(rng.uniform(-1.28, -1.15)), lon=float(rng.uniform(116.80, 116.95)))
        for i, m in enumerate(np.sort(rng.uniform(0, weeks * 7 * 1440, weeks * 7 * per_day)))
    ]  # fmt: skip
    for week in range(weeks):
        night = start + timedelta(days=7 * week + 5, hours=20)
        out += burst(f"sat{week}-", per_night, minutes=200, text="berisik", seed=week, start=night)
    return sorted(out, key=lambda c: c.ts), start + timedelta(days=7 * weeks)


def test_time_of_week_habit_is_usual_then_but_not_on_a_weekday(city):
    history, week5 = weekly_habit(city)
    saturday = burst("s", 5, minutes=20, text="berisik", start=week5 + timedelta(days=5, hours=21))
    tuesday = burst("t", 5, minutes=20, text="berisik", start=week5 + timedelta(days=1, hours=9))
    bank = ReportBank(city)
    first_nights = [s for s in bank.process(history) if s.state == "open"]
    assert len(first_nights) <= 2  # the habit is news only the first time or two
    clone = pickle.loads(pickle.dumps(bank))
    assert [s.state for s in bank.process(tuesday)][:1] == ["open"]
    assert [s for s in clone.process(saturday) if s.state == "open"] == []


def test_a_cold_bank_asks_for_more_evidence_than_a_warm_one(city):
    three = burst("w", 3, text="banjir", radius_m=50, minutes=10, start=T0 + timedelta(hours=1))
    assert ReportBank(city).process(three) == []
    warm = ReportBank(city)
    warm.process([dataclasses.replace(c, text="banjir") for c in background(500, hours=48)])
    assert [s.state for s in warm.process(three)] == ["open"]


def test_a_restored_bank_describes_held_clusters_with_the_current_city(city):
    old = dataclasses.replace(city, routing={**city.routing, "fire": ("satpolpp",)})
    bank = ReportBank(old)
    first = bank.process(burst("f", 5))
    restored = pickle.loads(pickle.dumps(bank))  # a snapshot taken under the old routing.toml
    assert restored.adopt(city) == []
    later = restored.process(burst("g", 5, start=T0 + timedelta(minutes=21), seed=2))
    assert {s.key for s in later} == {first[-1].key}  # the held cluster goes on
    assert "satpolpp" in first[-1].agencies
    assert later[-1].agencies == city.agencies_for("fire", later[-1].zone)
