"""Open311 GeoReport v2 intake: validation, pseudonymised publication, status."""

from __future__ import annotations

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from fastapi.testclient import TestClient

from api.main import create_app

pytestmark = pytest.mark.integration

PHONE = "+62 812-3456-7890"


@pytest.fixture
def client(isolated_settings):
    with TestClient(create_app(isolated_settings)) as c:
        yield c


def published(settings) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": "o311"})
    consumer.assign([TopicPartition(settings.topics.complaints, p, OFFSET_BEGINNING)
                     for p in range(settings.topics.partitions)])  # fmt: skip
    values = [m.value() for m in consumer.consume(100, timeout=3) if m.error() is None]
    consumer.close()
    return values


def test_services_list_every_category(client):
    services = client.get("/open311/v2/services.json").json()
    codes = {s["service_code"] for s in services}
    assert {"fire", "flood", "traffic_accident", "family_help"} <= codes
    assert all(s["type"] == "realtime" for s in services)


def test_form_request_is_published_without_personal_data(client, isolated_settings):
    resp = client.post("/open311/v2/requests.json", data={
        "service_code": "fire", "lat": "-1.2560", "long": "116.8265",
        "description": "asap tebal dari gudang, telepon saya 0812 3456 7890",
        "phone": PHONE, "first_name": "Budi",
    })  # fmt: skip
    assert resp.status_code == 201, resp.text
    request_id = resp.json()[0]["service_request_id"]
    values = published(isolated_settings)
    assert len(values) == 1
    assert b"3456" not in values[0] and b"Budi" not in values[0]
    report = orjson.loads(values[0])
    assert report["id"] == request_id and report["category"] == "fire"
    assert report["reporter"].startswith("rp_")
    status = client.get(f"/open311/v2/requests/{request_id}.json").json()[0]
    assert status["status"] == "open" and status["service_code"] == "fire"
    assert PHONE not in resp.text + str(status)


def test_json_request_with_address_only(client):
    resp = client.post(
        "/open311/v2/requests.json",
        json={
            "service_code": "flood",
            "address_string": "Balikpapan Baru",
            "description": "banjir",
        },
    )
    assert resp.status_code == 201, resp.text


@pytest.mark.parametrize(("body", "code", "says"), [
    ({"lat": "-1.25", "long": "116.8"}, 400, "service_code is required"),
    ({"service_code": "unicorns", "lat": "-1.25", "long": "116.8"}, 404, "unknown service_code"),
    ({"service_code": "fire"}, 400, "a location is required"),
    ({"service_code": "fire", "lat": "north", "long": "116.8"}, 400, "lat must be a number"),
    ({"service_code": "fire", "lat": "-1.25"}, 400, "lat and long must be given together"),
    ({"service_code": "fire", "lat": "-91", "long": "116.8"}, 400, "outside"),
])  # fmt: skip
def test_bad_requests_say_what_is_wrong(client, body, code, says):
    resp = client.post("/open311/v2/requests.json", data=body)
    assert resp.status_code == code
    assert says in resp.json()[0]["description"]


def test_unknown_request_is_404(client):
    resp = client.get("/open311/v2/requests/o311-nope.json")
    assert resp.status_code == 404 and resp.json()[0]["code"] == 404
