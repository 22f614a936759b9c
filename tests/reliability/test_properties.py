"""Property tests for every decoder and parser: hostile input never escapes as a surprise.

Each parser has a documented way to refuse input (:class:`~kendali.codec.Rejected`,
:class:`~sources.cap.CapError`, :class:`~kendali.city.CityError`,
:class:`~kendali.settings.SettingsError`, :class:`~sources.reports_csv.CsvRejected`,
:class:`~sources.telemetry.TelemetryError`); anything else escaping is a bug that would crash a
flow or an import. Valid records must also survive a round trip unchanged.
"""

from __future__ import annotations

import io
import math
import shutil
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kendali.actions import Action, decode_action
from kendali.city import CityError, load_city
from kendali.codec import (
    Rejected,
    decode_complaint,
    decode_hydromet,
    decode_traffic,
    encode,
)
from kendali.settings import Settings, SettingsError, load_settings
from sources.cap import CapError, cap_to_signals, parse_cap
from sources.reports_csv import CsvRejected, read_reports
from sources.telemetry import TelemetryError, parse_telemetry
from tests.reliability.hostile import (
    FIELDS,
    hostile_values,
    json_objects,
    mangle,
    valid_complaint,
    valid_hydromet,
    valid_traffic,
)
from tests.support import ROOT

pytestmark = pytest.mark.reliability

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
CITY_DIR = ROOT / "cities" / "balikpapan"
CAP_DIR = ROOT / "tests" / "fixtures" / "cap"
DECODERS = {"traffic": decode_traffic, "hydromet": decode_hydromet, "complaints": decode_complaint}
VALID = {"traffic": valid_traffic, "hydromet": valid_hydromet, "complaints": valid_complaint}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_decoded(result, kind: str) -> None:
    if isinstance(result, Rejected):
        assert isinstance(result.reason, str) and result.reason
        return
    assert (
        type(result).__name__
        == {
            "traffic": "TrafficReading",
            "hydromet": "HydrometReading",
            "complaints": "Complaint",
        }[kind]
    )
    assert result.ts.tzinfo is not None
    assert NOW - timedelta(days=365 * 30) <= result.ts <= NOW + timedelta(hours=1)
    for name in ("volume", "occupancy", "speed", "level_cm", "rain_mm", "lat", "lon"):
        value = getattr(result, name, None)
        assert value is None or math.isfinite(value)


@pytest.mark.parametrize("kind", sorted(DECODERS))
@FAST
@given(raw=st.binary(max_size=400))
@example(raw=b"")
@example(raw=b"null")
@example(raw=b'{"ts": 1e999}')
@example(raw=b"[" * 10_000)
def test_decoders_refuse_random_bytes(kind, raw):
    _check_decoded(DECODERS[kind](raw, now=NOW), kind)


@pytest.mark.parametrize("kind", sorted(DECODERS))
@FAST
@given(data=st.data())
def test_decoders_refuse_mangled_records(kind, data):
    valid = data.draw(VALID[kind]())
    raw = data.draw(mangle(valid, FIELDS[kind]))
    _check_decoded(DECODERS[kind](raw, now=NOW), kind)


@pytest.mark.parametrize("kind", sorted(DECODERS))
@FAST
@given(data=st.data())
def test_valid_records_round_trip(kind, data):
    obj = data.draw(VALID[kind]())
    record = DECODERS[kind](orjson.dumps(obj), now=NOW)
    assert not isinstance(record, Rejected), record
    assert DECODERS[kind](encode(record), now=NOW) == record


@FAST
@given(raw=json_objects(("id", "incident_id", "zone", "action", "actor", "role", "ts", "fields")))
def test_action_decoder_never_raises(raw):
    result = decode_action(raw)
    assert isinstance(result, Action | Rejected)


@FAST
@given(raw=st.binary(max_size=300))
def test_action_decoder_random_bytes(raw):
    assert isinstance(decode_action(raw), Action | Rejected)


def _cap_documents() -> list[bytes]:
    return [p.read_bytes() for p in sorted(CAP_DIR.glob("*.xml"))]


@FAST
@given(data=st.data())
def test_parse_cap_mangled_documents(data):
    doc = data.draw(st.sampled_from(_cap_documents()))
    cut = data.draw(st.integers(0, len(doc)))
    junk = data.draw(st.binary(max_size=40) | st.sampled_from([b"<", b"&", b"]]>", b"\x00"]))
    mangled = doc[:cut] + junk + doc[cut + data.draw(st.integers(0, 30)) :]
    try:
        alert = parse_cap(mangled)
    except CapError as exc:
        assert str(exc)
        return
    city = load_city(CITY_DIR)
    cap_to_signals(alert, city.zone_index, city.name, NOW)


@FAST
@given(text=st.text(max_size=200))
def test_parse_cap_random_text(text):
    with pytest.raises(CapError):
        parse_cap(text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize(
    "attack",
    [
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx"><!ENTITY y "&x;&x;&x;&x;">'
        b"]><alert>&y;</alert>",
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<alert>&e;</alert>",
        b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "http://127.0.0.1:9/x.dtd"><alert/>',
    ],
    ids=["billion-laughs", "external-entity", "external-dtd"],
)
def test_parse_cap_refuses_entity_attacks(attack):
    with pytest.raises(CapError, match="refused XML construct"):
        parse_cap(attack)


def _mangled_city(tmp_path, name: str, data) -> object:
    folder = tmp_path / "city"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(CITY_DIR, folder)
    target = folder / name
    raw = target.read_bytes()
    cut = data.draw(st.integers(0, len(raw)))
    junk = data.draw(
        st.binary(max_size=30)
        | st.sampled_from([b",", b'"', b"\n", b"=", b"[", b"{", b"nan", b"-1e999", b"Mars/Olympus"])
    )
    target.write_bytes(raw[:cut] + junk + raw[cut + data.draw(st.integers(0, 20)) :])
    return folder


@pytest.mark.parametrize(
    "name",
    [
        "city.toml",
        "detectors.csv",
        "gauges.csv",
        "zones.geojson",
        "flood_areas.geojson",
        "places.csv",
        "routing.toml",
    ],
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_load_city_mangled_files(tmp_path, name, data):
    folder = _mangled_city(tmp_path, name, data)
    try:
        load_city(folder)
    except CityError as exc:
        assert str(exc)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200) | st.sampled_from(["[flow]\nworkers = 'x'", "[nope]\na=1"]))
def test_settings_file_garbage(tmp_path, text):
    path = tmp_path / "kendali.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        settings_ = load_settings(path, env={})
    except SettingsError as exc:
        assert str(exc)
        return
    assert isinstance(settings_, Settings)


@FAST
@given(
    env=st.dictionaries(
        st.sampled_from(list(Settings().to_env())),
        hostile_values().map(str) | st.text(max_size=20),
        max_size=4,
    )
)
def test_settings_env_garbage(env):
    try:
        Settings().with_overrides(env)
    except SettingsError as exc:
        assert str(exc)


_CSV_HEADER = "id,created_at,lat,lon,text,phone,place,category\n"


@FAST
@given(
    rows=st.lists(
        st.lists(
            hostile_values().map(str) | st.text(max_size=30),
            min_size=0,
            max_size=9,
        ).map(lambda cells: ",".join(c.replace("\x00", "") for c in cells)),
        max_size=8,
    )
)
def test_reports_csv_rows_are_records_or_rejections(rows):
    stream = io.StringIO(_CSV_HEADER + "\n".join(rows), newline="")
    for item in read_reports(stream, UTC, source="fuzz", pseudonym_key="k"):
        assert isinstance(item, CsvRejected) or item.ts.tzinfo is not None
        if not isinstance(item, CsvRejected):
            assert item.reporter is None or item.reporter.startswith("rp_")


@FAST
@given(
    raw=st.binary(max_size=300)
    | json_objects(("station", "ts", "level_cm", "rain_mm", "kind")).map(
        lambda o: b'{"readings": [' + o + b"]}"
    ),
    fmt=st.sampled_from(["json", "csv"]),
)
def test_telemetry_parser(raw, fmt):
    try:
        parse_telemetry(raw, fmt, UTC)
    except TelemetryError as exc:
        assert str(exc)
