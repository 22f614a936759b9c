"""Builds the FastAPI application: routers, Redis client, the alert broadcaster, error bodies.

``uvicorn --factory api.main:create_app`` or ``kendali api``.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app

from api.broadcast import Broadcaster
from api.deps import AppState
from api.limits import install_limits
from api.routers import actions, exports, health, incidents, kpis, open311, stream, wall
from kendali.city import City, load_city
from kendali.settings import Settings, load_settings
from kendali.store import Keys

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, city: City | None = None) -> FastAPI:
    """The API for one city; settings from ``kendali.toml``/``KENDALI_*`` when not given."""
    settings = settings or load_settings()
    city = city or load_city(settings.city)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # A blocking pool: a burst of requests (hundreds of wall clients reconnecting at once)
        # waits for a free connection instead of failing with "Too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.redis.url,
            max_connections=100,
            timeout=5,
            socket_timeout=5,
            socket_connect_timeout=2,
            health_check_interval=10,
        )
        client = aioredis.Redis(connection_pool=pool)
        keys = Keys(settings.redis.prefix)
        broadcaster = Broadcaster(client, keys.alerts)
        broadcaster.start()
        app.state.kendali = AppState(settings, city, client, keys, broadcaster)
        try:
            yield
        finally:
            await broadcaster.stop()
            await client.aclose()
            await asyncio.to_thread(app.state.kendali.flush_publisher)

    app = FastAPI(
        title="Kendali",
        version="0.1.0",
        summary="Real-time incidents for a city command centre",
        lifespan=lifespan,
    )
    install_limits(app, settings.api)
    if settings.api.cors_origins:  # added last, so outermost: refusals (413, 429) carry it too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.api.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.exception_handler(redis.ConnectionError)
    @app.exception_handler(redis.TimeoutError)
    async def redis_down(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": f"incident store (Redis) unavailable: {exc}; retry shortly"},
            status_code=503,
            headers={"Retry-After": "2"},
        )

    for router in (
        actions.router,
        exports.router,
        kpis.router,
        health.router,
        incidents.router,
        open311.router,
        stream.router,
        wall.router,
    ):
        app.include_router(router)
    app.mount("/metrics", make_asgi_app())
    return app
