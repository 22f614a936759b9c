"""The incident book: fusion into stable ids, the lifecycle, operator actions, bounds."""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from detectors.incidents import IncidentBook, incident_id
from detectors.lifecycle import LifecycleRules
from kendali.actions import Action
from kendali.city import load_city
from kendali.records import Signal
from kendali.settings import Settings

CITY = load_city(Settings().city)
T0 = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
GAUGE = (116.869, -1.247)  # inside the ampal-bb flood area
AREA = ((116.862, -1.252), (116.876, -1.252), (116.876, -1.242), (116.862, -1.242))


def sig(source, category, episode, minutes, lon, lat, state="open", **kw) -> Signal:
    base = dict(score=0.8, severity="Moderate", explanation=f"{category} from {source}")
    base.update(kw)
    return Signal(
        source, "incident", category, f"{source}:{episode}", episode, state,
        T0 + timedelta(minutes=minutes), lat, lon, zone="Balikpapan Tengah",
        evidence=(f"{episode}@{minutes}",), **base,
    )  # fmt: skip


def act(incident: str, action: str, minutes: float, **fields) -> Action:
    ts = T0 + timedelta(minutes=minutes)
    return Action(f"a-{action}-{minutes}", incident, "Balikpapan Tengah", action, "ops", "operator",
                  "bpbd", ts, fields)  # fmt: skip


def book() -> IncidentBook:
    return IncidentBook.for_city(CITY.routing, CITY.folder)


def flood_scene() -> list[Signal]:
    return [
        sig("hydromet", "flood", "gauge:AMPAL:flood:1", 0, *GAUGE, severity="Severe", area=AREA),
        sig("reports", "flood", "banjir-7", 10, 116.871, -1.246, certainty="Possible"),
        sig("traffic", "congestion", "atcs:BPN-A03:1", 15, 116.8705, -1.2532),
    ]


def test_three_streams_fuse_into_one_flood_incident_with_a_stable_id():
    b = book()
    versions = b.process(flood_scene())
    assert {v.id for v in versions} == {incident_id("gauge:AMPAL:flood:1")}
    last = versions[-1]
    assert [v.version for v in versions] == [1, 2, 3]
    assert last.category == "flood"
    assert last.sources == ("hydromet", "reports", "traffic")
    assert {"gauge:AMPAL:flood:1", "banjir-7", "atcs:BPN-A03:1"} <= set(last.evidence)
    assert last.certainty == "Observed"  # corroborated by two further independent sources
    assert last.severity == "Extreme"  # Severe, raised one step by three sources
    assert last.agencies[0] == "bpbd" and "dishub" in last.agencies
    assert "related signal" in last.explanation


def test_far_away_or_incompatible_or_late_signals_open_their_own_incidents():
    b = book()
    b.process(flood_scene()[:1])
    far = sig("traffic", "congestion", "atcs:FAR:1", 5, 116.95, -1.20)
    fire = sig("reports", "fire", "fire-1", 5, *GAUGE)
    late = sig("reports", "flood", "banjir-9", 5 + 181, 116.871, -1.246)
    b.apply(replace(flood_scene()[0], state="clear", ts=T0 + timedelta(minutes=1)))
    ids = {b.apply(s)[0].id for s in (far, fire, late)}
    assert len(ids) == 3 and incident_id("gauge:AMPAL:flood:1") not in ids


def test_automatic_resolution_then_reopening_then_a_new_incident_after_the_window():
    b = IncidentBook.for_city(CITY.routing, CITY.folder)
    b.lifecycle = LifecycleRules(resolve_after=timedelta(minutes=15),
                                 reopen_within=timedelta(minutes=60))  # fmt: skip
    first = flood_scene()[0]
    b.apply(first)
    b.apply(replace(first, state="clear", ts=T0 + timedelta(minutes=30)))
    assert b.tick(T0 + timedelta(minutes=40)) == []
    (resolved,) = b.tick(T0 + timedelta(minutes=46))
    assert resolved.status == "resolved"
    again = sig("reports", "flood", "banjir-8", 80, 116.871, -1.246)
    (reopened,) = b.apply(again)
    assert (reopened.id, reopened.status) == (resolved.id, "new")
    assert reopened.explanation.startswith("Reopened")
    b.apply(replace(again, state="clear", ts=T0 + timedelta(minutes=90)))
    b.tick(T0 + timedelta(minutes=106))
    later = sig("reports", "flood", "banjir-9", 106 + 61, 116.871, -1.246)
    assert b.apply(later)[0].id != resolved.id


def test_operator_lifecycle_and_refused_transitions():
    b = book()
    inc = b.apply(flood_scene()[0])[0]
    assert b.apply(act(inc.id, "dispatch", 1, agency="damkar", unit="PMK-3"))[0].status == (
        "dispatched"
    )
    assert "damkar" in b.incidents[inc.id].agencies
    assert b.apply(act(inc.id, "acknowledge", 2)) == []  # dispatched cannot be acknowledged
    assert b.apply(act(inc.id, "annotate", 3, note="water 40 cm")) == []
    (resolved,) = b.apply(act(inc.id, "resolve", 4))
    assert resolved.status == "resolved" and resolved.version == 3


def test_operator_resolution_and_false_alarm_are_not_raised_again_by_the_same_evidence():
    b = book()
    gauge = flood_scene()[0]
    inc = b.apply(gauge)[0]
    b.apply(act(inc.id, "false_alarm", 1))
    assert b.apply(replace(gauge, state="update", ts=T0 + timedelta(minutes=5))) == []
    assert b.incidents[inc.id].status == "false_alarm"
    b.apply(replace(gauge, state="clear", ts=T0 + timedelta(minutes=6)))
    assert b.suppressed == {}


def test_merge_in_one_book_moves_the_evidence_and_later_signals_to_the_target():
    b = book()
    flood = b.apply(flood_scene()[0])[0]
    other = b.apply(sig("reports", "crime", "crime-1", 1, 116.80, -1.26))[0]
    source, target = b.apply(act(other.id, "merge", 2, into=flood.id))
    assert (source.status, source.merged_into, target.id) == ("merged", flood.id, flood.id)
    assert target.merged_into is None
    assert "crime-1" in target.evidence and source.explanation.startswith("Merged into")
    follow = b.apply(sig("reports", "crime", "crime-1", 3, 116.80, -1.26, state="update"))
    assert [i.id for i in follow] == [flood.id]
    assert b.apply(act(flood.id, "absorb", 4, source=other.id, evidence=[])) == []


def test_absorb_from_another_zone_adds_evidence_once():
    b = book()
    flood = b.apply(flood_scene()[0])[0]
    fields = {"source": "INC-x", "evidence": ["report:9"], "sources": ["cap"]}
    (grown,) = b.apply(act(flood.id, "absorb", 1, **fields))
    assert "report:9" in grown.evidence and "cap" in grown.sources
    assert b.apply(act(flood.id, "absorb", 2, **fields)) == []


def test_finished_incidents_close_and_are_forgotten_and_the_book_pickles():
    b = book()
    inc = b.apply(flood_scene()[0])[0]
    b.apply(act(inc.id, "resolve", 1))
    restored = pickle.loads(pickle.dumps(b))
    (closed,) = restored.tick(T0 + timedelta(hours=13))
    assert closed.status == "closed"
    assert restored.cases == {} and restored.episodes == {} and restored.suppressed == {}


def test_faults_never_fuse():
    b = book()
    a = replace(flood_scene()[2], kind="fault", category="detector_fault", episode="f1")
    c = replace(a, episode="f2", key="atcs:other")
    assert b.apply(a)[0].id != b.apply(c)[0].id


def test_a_restored_book_takes_the_current_routing_with_the_next_version():
    old = IncidentBook.for_city({**CITY.routing, "flood": ("dinsos",)}, CITY.folder)
    [first] = old.process(flood_scene()[:1])
    assert first.agencies == ("dinsos",)
    restored = pickle.loads(pickle.dumps(old))  # a snapshot taken under the old routing.toml
    assert restored.adopt(book()) == []  # nothing is re-issued at the restart itself
    [second] = restored.process(flood_scene()[1:2])
    assert (second.id, second.version) == (first.id, 2)  # the same incident goes on
    assert second.agencies == CITY.routing["flood"]
