"""Request body cap and intake rate limit: the middleware alone, then wired into the app."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.limits import BodyLimit, IntakeRateLimit, TokenBucket
from api.main import create_app

pytestmark = pytest.mark.reliability


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse({"size": len(await request.body())})


def _client(max_bytes: int = 100, bucket: TokenBucket | None = None) -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/open311/v2/requests.json", _echo, methods=["POST", "GET"])])
    wrapped = BodyLimit(IntakeRateLimit(app, bucket or TokenBucket(1000, 1000)), max_bytes)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://t")


async def _body_limit():
    async def chunks():
        for _ in range(5):
            yield b"x" * 40

    async with _client(max_bytes=100) as client:
        ok = await client.post("/open311/v2/requests.json", content=b"x" * 100)
        declared = await client.post("/open311/v2/requests.json", content=b"x" * 101)
        streamed = await client.post("/open311/v2/requests.json", content=chunks())
    return ok, declared, streamed


def test_body_limit_by_declared_length_and_while_streaming():
    ok, declared, streamed = asyncio.run(_body_limit())
    assert ok.json() == {"size": 100}
    assert declared.status_code == 413 and "101 bytes" in declared.json()["detail"]
    assert streamed.status_code == 413 and "limit of 100" in streamed.json()["detail"]


async def _rate_limit():
    now = [0.0]
    bucket = TokenBucket(rate=0.5, burst=2, clock=lambda: now[0])
    async with _client(bucket=bucket) as client:
        codes = [(await client.post("/open311/v2/requests.json")).status_code for _ in range(3)]
        refused = await client.post("/open311/v2/requests.json")
        reads = [(await client.get("/open311/v2/requests.json")).status_code for _ in range(5)]
        now[0] = 2.0
        again = await client.post("/open311/v2/requests.json")
    return codes, refused, reads, again


def test_rate_limit_per_address_with_retry_after():
    codes, refused, reads, again = asyncio.run(_rate_limit())
    assert codes == [200, 200, 429]
    assert refused.headers["retry-after"] == "2"
    assert "too many reports" in refused.json()[0]["description"]
    assert reads == [200] * 5, "reads are not rate limited"
    assert again.status_code == 200


def test_bucket_memory_stays_bounded():
    bucket = TokenBucket(rate=1.0, burst=1, clock=lambda: 0.0, max_keys=100)
    for i in range(1_000):
        bucket.wait(f"10.0.{i // 256}.{i % 256}")
    assert len(bucket.buckets) <= 100


def test_app_applies_the_configured_limits(isolated_settings):
    settings = dataclasses.replace(
        isolated_settings,
        api=dataclasses.replace(
            isolated_settings.api, max_body_bytes=10_000, intake_burst=2, intake_per_minute=1
        ),
    )
    form = {"service_code": "fire", "lat": "-1.2654", "long": "116.8312"}
    with TestClient(create_app(settings)) as client:
        url = "/open311/v2/requests.json"
        codes = [client.post(url, data=form).status_code for _ in range(3)]
        big = client.post("/api/incidents/X/actions", content=b"{" + b" " * 20_000 + b"}")
    assert codes == [201, 201, 429]
    assert big.status_code == 413


def test_refusals_carry_cors_headers_so_a_browser_form_can_read_them(isolated_settings):
    """A report form on another origin must see the 413 or 429 and its reason, not an opaque
    CORS failure."""
    origin = "https://lapor.example"
    settings = dataclasses.replace(
        isolated_settings,
        api=dataclasses.replace(
            isolated_settings.api,
            max_body_bytes=10_000,
            intake_burst=1,
            intake_per_minute=1,
            cors_origins=(origin,),
        ),
    )
    form = {"service_code": "fire", "lat": "-1.2654", "long": "116.8312"}
    headers = {"Origin": origin}
    with TestClient(create_app(settings)) as client:
        url = "/open311/v2/requests.json"
        codes = [client.post(url, data=form, headers=headers) for _ in range(2)]
        big = client.post(url, content=b"x" * 20_000, headers=headers)
    assert [r.status_code for r in codes] == [201, 429]
    assert big.status_code == 413
    for response in (*codes, big):
        assert response.headers.get("access-control-allow-origin") == origin
