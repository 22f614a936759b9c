"""Typed dependencies shared by the routers: settings, the city, the Redis client, key names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request

from api.broadcast import Broadcaster
from kendali.city import City
from kendali.settings import Settings
from kendali.store import Keys

__all__ = ["AppState", "State", "get_state"]


@dataclass
class AppState:
    """What the app builds once at start-up and every request reads."""

    settings: Settings
    city: City
    redis: aioredis.Redis
    keys: Keys
    broadcaster: Broadcaster


def get_state(request: Request) -> AppState:
    return request.app.state.kendali


State = Annotated[AppState, Depends(get_state)]
