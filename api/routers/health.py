"""Liveness and readiness: ready means Redis answers."""

from __future__ import annotations

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import State

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    """The process is up (says nothing about its dependencies)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Redis is unreachable"}})
async def readyz(state: State):
    """Ready to serve: Redis answers a PING."""
    try:
        await state.redis.ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        return JSONResponse({"status": "unavailable", "detail": f"redis: {exc}"}, status_code=503)
    return {"status": "ready"}
