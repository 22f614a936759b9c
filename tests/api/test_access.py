"""Restricted categories (routing.toml ``[access] restricted``): public reads leave them out,
any valid token reads them, and a wrong token is refused rather than read as public."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kendali.city import CityError, load_city
from tests.api.conftest import incident

DEMO_CITY = Path(__file__).resolve().parents[2] / "cities" / "balikpapan"


def seed(api):
    api.write(
        incident("INC-fire"),
        incident("INC-fam", category="family_help", agencies=("puspaga",),
                 explanation="a child alone at home reported by a neighbour"),
        incident("INC-crime", category="crime", agencies=("police",)),
    )  # fmt: skip


def ids(resp) -> set[str]:
    assert resp.status_code == 200, resp.text
    return {item["id"] for item in resp.json()["items"]}


def test_the_public_list_leaves_restricted_categories_out(api):
    seed(api)
    assert ids(api.client.get("/api/incidents")) == {"INC-fire"}
    asked = api.client.get("/api/incidents", params={"category": "family_help"})
    assert ids(asked) == set(), "a filter does not reach around the restriction"
    everything = {"INC-fire", "INC-fam", "INC-crime"}
    assert ids(api.client.get("/api/incidents", headers=api.token("viewer"))) == everything
    token = api.token("operator", "damkar")["Authorization"].split()[1]
    with_query = api.client.get("/api/incidents", params={"access_token": token})
    assert ids(with_query) == everything


def test_one_restricted_incident_is_not_found_without_a_token(api):
    seed(api)
    for path in ("/api/incidents/INC-fam", "/api/incidents/INC-fam/cap"):
        public = api.client.get(path)
        assert public.status_code == 404, path
        assert public.json()["detail"] == "no incident 'INC-fam'", "same answer as a missing id"
        assert api.client.get(path, headers=api.token("viewer")).status_code == 200, path
    assert api.client.get("/api/incidents/INC-fire").status_code == 200


def test_exports_leave_restricted_categories_out_without_a_token(api):
    seed(api)
    public = api.client.get("/api/incidents.geojson").json()
    assert {f["id"] for f in public["features"]} == {"INC-fire"}
    feed = api.client.get("/api/cap").text
    assert "INC-fire" in feed and "INC-fam" not in feed and "INC-crime" not in feed
    viewer = api.client.get("/api/cap", headers=api.token("viewer")).text
    assert "INC-fam" in viewer and "INC-crime" in viewer


def test_a_wrong_token_on_a_public_read_is_refused(api):
    seed(api)
    resp = api.client.get("/api/incidents", headers={"Authorization": "Bearer kdl_wrong"})
    assert resp.status_code == 401
    assert resp.json()["detail"] == "unknown or revoked token"


def test_an_open311_status_does_not_repeat_a_restricted_incidents_explanation(api):
    resp = api.client.post("/open311/v2/requests.json", data={
        "service_code": "family_help", "lat": "-1.2560", "long": "116.8265",
        "description": "anak menangis sendirian di rumah sebelah",
    })  # fmt: skip
    request_id = resp.json()[0]["service_request_id"]
    api.write(incident("INC-fam", category="family_help", agencies=("puspaga",),
                       evidence=(f"report:{request_id}",),
                       explanation="a neighbour's report names the family"))  # fmt: skip
    status = api.client.get(f"/open311/v2/requests/{request_id}.json").json()[0]
    assert status["status_notes"] == "part of incident INC-fam (new)"
    assert status["description"] == "anak menangis sendirian di rumah sebelah", "their own words"


def test_the_demo_city_restricts_family_help_and_crime():
    assert load_city(DEMO_CITY).restricted == {"family_help", "crime"}


@pytest.mark.parametrize(
    ("access", "message"),
    [
        ('restricted = ["family_hepl"]', "unknown categories ['family_hepl']"),
        ('restricted = "crime"', "must be a list of category names"),
    ],
)
def test_a_wrong_access_table_names_the_mistake(tmp_path, access, message):
    city = tmp_path / "city"
    shutil.copytree(DEMO_CITY, city)
    routing = city / "routing.toml"
    text = routing.read_text(encoding="utf-8")
    head = text[: text.index("[access]")]
    routing.write_text(f"{head}[access]\n{access}\n", encoding="utf-8")
    with pytest.raises(CityError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_city(city)
