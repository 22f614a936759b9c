"""kendali import / kendali city: existing data into the topics, a SCATS network as a city."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from kendali.city import load_city
from kendali.cli import main
from kendali.settings import Settings
from tests.support import ROOT

SCATS = Path(Settings().data_dir) / "traffic" / "vicroads_scats_boroondara_2006-10"


def consume(settings, topic: str) -> list:
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": "imp"})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                     for p in range(settings.topics.partitions)])  # fmt: skip
    msgs = [m for m in consumer.consume(100, timeout=3) if m.error() is None]
    consumer.close()
    return msgs


def _import(tmp_path, kind: str, text: str, *flags: str) -> int:
    """``kendali import KIND`` of a CSV file holding ``text``."""
    path = tmp_path / f"{kind}.csv"
    path.write_text(text)
    return main(["import", kind, str(path), "--tz", "Asia/Makassar", *flags])


@pytest.fixture
def env(isolated_settings, monkeypatch):
    for name, value in isolated_settings.to_env().items():
        monkeypatch.setenv(name, value)
    return isolated_settings


@pytest.mark.integration
def test_import_reports_csv_pseudonymises_and_refuses_bad_rows(env, tmp_path, capsys):
    calls = (
        "created_at,lat,lon,category,text,phone\n"
        "2026-11-27 08:01,-1.2560,116.8265,fire,kebakaran,+62 812 1111 2222\n"
        "2026-11-27 08:02,-1.2561,116.8266,,asap tebal,0812 3333 4444\n"
        "yesterday,-1.2,116.8,fire,bad time,\n"
    )
    assert _import(tmp_path, "reports", calls) == 0
    msgs = consume(env, env.topics.complaints)
    assert len(msgs) == 2
    assert all(b"1111" not in m.value() and b"3333" not in m.value() for m in msgs)
    assert orjson.loads(msgs[0].value())["ts"].endswith("+08:00")
    assert "1 rows refused" in capsys.readouterr().err


@pytest.mark.integration
def test_import_atcs_long_csv_publishes_good_rows_and_names_the_refused(env, tmp_path, capsys):
    counts = (
        "detector_id,timestamp,volume,occupancy\n"
        "BPN-001,2026-11-27T08:00:00+08:00,12,30.5\n"
        "BPN-002,2026-11-27 08:05,many,\n"
        "BPN-003,2026-11-27 08:05,7,\n"
    )
    assert _import(tmp_path, "atcs", counts, "--format", "long") == 0
    msgs = consume(env, env.topics.traffic)
    assert sorted(m.key() for m in msgs) == [b"BPN-001", b"BPN-003"]
    assert orjson.loads(msgs[0].value())["ts"].endswith("+08:00")
    err = capsys.readouterr().err
    assert "1 rows refused" in err and "line 3: could not convert string to float: 'many'" in err


@pytest.mark.integration
def test_import_cap_file_and_refuse_malformed(env, tmp_path, capsys):
    sample = sorted((ROOT / "tests" / "fixtures" / "cap").glob("*.xml"))[0]
    assert main(["import", "cap", str(sample)]) == 0
    assert consume(env, env.topics.warnings)[0].value() == sample.read_bytes()
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<alert>")
    assert main(["import", "cap", str(bad)]) == 1
    assert "kendali:" in capsys.readouterr().err


@pytest.mark.skipif(not SCATS.is_dir(), reason=f"shared SCATS data not found at {SCATS}")
def test_scats_locations_become_a_loadable_city(tmp_path):
    assert main(["city", "scats", str(SCATS / "scats_locations.csv"), str(tmp_path / "c")]) == 0
    city = load_city(tmp_path / "c")
    assert len(city.detectors) == 139
    assert any(d.upstream for d in city.detectors.values())
    assert city.zone_of(*next(iter((d.lon, d.lat) for d in city.detectors.values())))
