"""Schemathesis against the running API's OpenAPI schema: no input makes it answer 5xx.

Every operation is called with generated (valid and invalid) parameters and bodies, with an
admin token so that the authenticated code paths run too. The live stream is left out (it never
ends; the SSE tests cover it).
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.apirun import Api, token
from tests.reliability.flowrun import stack_settings
from tests.reliability.hostile import json_objects

pytestmark = [pytest.mark.reliability, pytest.mark.integration]


@pytest.fixture(scope="module")
def api_session(stack, tmp_path_factory):
    """One API for the module, on the session's servers with topics and keys of its own."""
    folder = tmp_path_factory.mktemp("schemathesis")
    settings_ = stack_settings(stack, folder)
    api = Api(settings_, folder / "api.log").start()
    yield api, token(settings_, "admin")
    api.stop()


def _check(operation, admin: str) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    def call(case):
        response = case.call(headers={"Authorization": f"Bearer {admin}"}, timeout=10)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
        )

    call()


def test_no_input_makes_the_api_fail(api_session):
    api, admin = api_session
    schema = schemathesis.openapi.from_url(f"{api.base}/openapi.json").exclude(path="/api/stream")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, "the schema lists the API's operations"
    for operation in operations:
        _check(operation, admin)


OPEN311 = (
    "service_code",
    "lat",
    "long",
    "address_string",
    "description",
    "media_url",
    "phone",
    "email",
    "first_name",
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=json_objects(OPEN311) | st.binary(max_size=200),
    form=st.dictionaries(st.sampled_from(OPEN311) | st.text(max_size=8), st.text(max_size=40)),
)
def test_open311_intake_answers_4xx_to_hostile_bodies(api_session, body, form):
    """JSON and form bodies the schema cannot describe (GeoReport v2 posts are form-encoded)."""
    api, _ = api_session
    url = f"{api.base}/open311/v2/requests.json"
    as_json = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    as_form = httpx.post(url, data=form)
    for resp in (as_json, as_form):
        assert resp.status_code in (201, 400, 404, 413, 422, 429), resp.text[:300]
        if resp.status_code != 201:
            assert resp.json()[0]["description"], "a refusal says why"
