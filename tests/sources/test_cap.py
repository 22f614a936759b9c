"""CAP 1.2 parsing (hardened), schema validity of the fixtures, and mapping onto city zones."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from shapely.geometry import Polygon

from kendali.city import load_city
from kendali.settings import Settings
from sources.cap import CapError, cap_to_signals, parse_cap, read_cap

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cap"
WITA = ZoneInfo("Asia/Makassar")
NOW = datetime(2026, 11, 27, 15, 30, tzinfo=WITA)
XSD = Path(Settings().data_dir) / "cap" / "CAP-v1.2.xsd"


@pytest.fixture(scope="module")
def city():
    return load_city(Settings().city)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.xml")), ids=lambda p: p.name)
def test_fixtures_are_valid_cap_1_2(path):
    if not XSD.exists():
        pytest.skip(f"CAP schema not found at {XSD} (shared data folder absent)")
    import xmlschema

    xmlschema.XMLSchema(str(XSD)).validate(str(path))


def test_parse_alert_fields():
    alert = parse_cap(fixture("bmkg_heavy_rain_alert.xml"))
    assert (alert.identifier, alert.status, alert.msg_type) == (
        "BMKG-KALTIM-20261127-0001",
        "Actual",
        "Alert",
    )
    info = alert.infos[0]
    assert (info.urgency, info.severity, info.certainty) == ("Immediate", "Severe", "Likely")
    assert info.onset.utcoffset().total_seconds() == 8 * 3600
    assert info.expires == datetime(2026, 11, 27, 17, 0, tzinfo=WITA)
    ring = info.areas[0].polygons[0]
    assert ring[0] == (116.88, -1.30) and ring[0] == ring[-1]


def test_update_with_circle_and_references():
    alert = parse_cap(fixture("bmkg_flood_update.xml"))
    assert alert.references[0][1] == "BMKG-KALTIM-20261127-0001"
    area = alert.infos[0].areas[0]
    assert area.circles == ((116.87, -1.25, 3.0),) and area.geocodes == (("ADM2", "64.71"),)
    geom = area.geometry()
    assert geom.contains(Polygon([(116.869, -1.251), (116.871, -1.251), (116.87, -1.249)]))
    assert 2.5 < (geom.bounds[3] - geom.bounds[1]) * 111.32 / 2 < 3.5  # about 3 km radius


def test_warning_over_part_of_the_city_names_the_zones(city):
    alert = parse_cap(fixture("bmkg_heavy_rain_alert.xml"))
    signals = cap_to_signals(alert, city.zone_index, city.name, NOW)
    assert len(signals) == 1
    s = signals[0]
    assert (s.source, s.kind, s.category, s.state) == ("cap", "incident", "weather_warning", "open")
    assert s.severity == "Severe" and s.urgency == "Immediate"
    zones = s.details["zones"]
    assert zones and len(zones) < len(city.zones)  # part of the city, not all of it
    clipped = Polygon(s.area)
    assert clipped.bounds[0] >= 116.88 - 1e-9  # clipped to the warning
    city_outline = Polygon()
    for z in city.zones:
        city_outline = city_outline.union(z.geometry)
    assert clipped.difference(city_outline.buffer(1e-6)).area < 1e-9  # ... and to the city
    assert s.zone == zones[0] and "\n" not in s.explanation and city.name in s.explanation


def test_update_continues_episode_and_flood_event_is_flood(city):
    first = cap_to_signals(
        parse_cap(fixture("bmkg_heavy_rain_alert.xml")), city.zone_index, city.name, NOW
    )
    update = cap_to_signals(
        parse_cap(fixture("bmkg_flood_update.xml")), city.zone_index, city.name, NOW
    )
    assert update[0].state == "update" and update[0].category == "flood"
    assert update[0].key.split(":")[2] == first[0].key.split(":")[2]


def test_cancel_and_expiry_clear(city):
    cancel = cap_to_signals(parse_cap(fixture("bmkg_cancel.xml")), city.zone_index, city.name, NOW)
    assert [s.state for s in cancel] == ["clear"]
    later = datetime(2026, 11, 27, 18, 0, tzinfo=WITA)
    alert = parse_cap(fixture("bmkg_heavy_rain_alert.xml"))
    assert [s.state for s in cap_to_signals(alert, city.zone_index, city.name, later)] == ["clear"]


def test_warning_elsewhere_gives_nothing(city):
    alert = parse_cap(fixture("bmkg_elsewhere.xml"))
    assert cap_to_signals(alert, city.zone_index, city.name, NOW) == []


def test_exercise_gives_nothing(city):
    xml = fixture("bmkg_heavy_rain_alert.xml").replace(b">Actual<", b">Exercise<")
    assert cap_to_signals(parse_cap(xml), city.zone_index, city.name, NOW) == []


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol2;</identifier></alert>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><alert>&x;</alert>"""


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (BILLION_LAUGHS, "refused XML construct"),
        (EXTERNAL, "refused XML construct"),
        (b"<alert", "not well-formed"),
        (b"<alert/>", "root element must be CAP 1.2"),
        (
            fixture("bmkg_heavy_rain_alert.xml").replace(b"<sender>bmkg@bmkg.go.id</sender>", b""),
            "missing <sender>",
        ),
        (fixture("bmkg_heavy_rain_alert.xml").replace(b">Severe<", b">Awful<"), "<severity>"),
        (
            fixture("bmkg_heavy_rain_alert.xml").replace(b"-1.30,116.88</polygon>", b"</polygon>"),
            "first repeated last",
        ),
        (fixture("bmkg_heavy_rain_alert.xml").replace(b"+08:00</sent>", b"</sent>"), "offset"),
        (
            fixture("bmkg_flood_update.xml").replace(b"-1.25,116.87 3", b"-1.25 3"),
            "<circle> must be",
        ),
    ],
)
def test_malformed_cap_is_refused_with_a_reason(xml, reason):
    with pytest.raises(CapError) as err:
        parse_cap(xml)
    assert reason in err.value.reason


def test_read_cap_from_file_and_file_url():
    path = FIXTURES / "bmkg_cancel.xml"
    assert read_cap(str(path)) == read_cap(path.as_uri()) == path.read_bytes()
    with pytest.raises(CapError, match="unsupported URL scheme"):
        read_cap("ftp://example.org/x.xml")
    with pytest.raises(CapError, match="cannot read"):
        read_cap(str(FIXTURES / "missing.xml"))


def test_an_unknown_xml_encoding_is_a_cap_error_not_a_crash():
    """Found by the mangled-document property test: ``AUTF-8`` in the declaration raised
    LookupError out of the parser, which would have stopped the flow."""
    with pytest.raises(CapError, match="unknown XML encoding"):
        parse_cap(b'<?xml version="1.0" encoding="AUTF-8"?><alert/>')
