"""Fusion rules: configuration, space (points and areas), precedence and corroboration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detectors.fusion import FusionRules, distance_m, fuse, load_fusion_rules
from detectors.lifecycle import load_lifecycle_rules
from kendali.records import Signal
from kendali.settings import Settings

T0 = datetime(2026, 11, 27, tzinfo=UTC)
CITY_RULES = Path(Settings().city) / "fusion.toml"
SQUARE = ((116.86, -1.25), (116.87, -1.25), (116.87, -1.24), (116.86, -1.24))


def sig(source, category, lon, lat, **kw) -> Signal:
    values = dict(score=0.5, severity="Moderate", explanation=f"{category} via {source}")
    values.update(kw)
    return Signal(source, "incident", category, f"{source}:k", f"{source}:{category}", "open",
                  T0, lat, lon, **values)  # fmt: skip


def test_the_city_file_sets_windows_radii_groups_and_lifecycle():
    rules = load_fusion_rules(CITY_RULES)
    assert rules.rule("flood").window == timedelta(minutes=180)
    assert rules.rule("flood").radius_m == 1500
    assert rules.rule("no-such-category") == rules.default
    assert rules.radius_m("crime", "flood") == 1500
    assert rules.compatible("flood", "congestion") and rules.compatible("fire", "fire")
    assert not rules.compatible("flood", "traffic_accident")
    assert load_lifecycle_rules(CITY_RULES).reopen_within == timedelta(minutes=60)


def test_bad_configuration_is_refused_with_the_file_named(tmp_path):
    bad = tmp_path / "fusion.toml"
    bad.write_text("[fusion.categories]\nflood = { radius_m = -3 }\n")
    with pytest.raises(ValueError, match="radius_m must be a positive number"):
        load_fusion_rules(bad)
    bad.write_text("[lifecycle]\nresolve_after_min = 'soon'\n")
    with pytest.raises(ValueError, match="resolve_after_min"):
        load_lifecycle_rules(bad)
    assert load_fusion_rules(tmp_path / "absent.toml") == FusionRules()


def test_distance_is_zero_inside_an_area_and_metres_outside():
    inside = sig("reports", "flood", 116.865, -1.245)
    gauge = sig("hydromet", "flood", 116.0, -1.0, area=SQUARE)
    assert distance_m(inside, gauge) == 0.0
    east = sig("traffic", "congestion", 116.875, -1.245)  # 0.005 deg east of the square
    assert distance_m(east, gauge) == pytest.approx(556, rel=0.01)
    assert distance_m(east, inside) == pytest.approx(1112, rel=0.01)


def test_the_lead_category_names_the_incident_and_sources_corroborate():
    rules = load_fusion_rules(CITY_RULES)
    jam = sig("traffic", "congestion", 116.86, -1.24, score=0.9, severity="Severe",
              certainty="Possible")  # fmt: skip
    reports = sig("reports", "flood", 116.86, -1.24, certainty="Possible", agencies=("pupr",))
    fused = fuse([jam, reports], rules, lambda c: {"congestion": ("dishub",)}[c])
    assert (fused.category, fused.explanation.split(" [")[0]) == ("flood", "flood via reports")
    assert fused.agencies == ("pupr", "dishub")
    assert (fused.certainty, fused.severity, fused.score) == ("Likely", "Severe", 0.9)
    gauge = sig("hydromet", "flood", 116.86, -1.24, severity="Severe", area=SQUARE,
                certainty="Possible")  # fmt: skip
    three = fuse([jam, reports, gauge], rules, lambda c: ())
    assert (three.certainty, three.severity, three.area) == ("Observed", "Extreme", SQUARE)
