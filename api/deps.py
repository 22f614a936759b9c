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
from sources.publish import KafkaPublisher

__all__ = ["AppState", "State", "get_state"]


@dataclass
class AppState:
    """What the app builds once at start-up and every request reads."""

    settings: Settings
    city: City
    redis: aioredis.Redis
    keys: Keys
    broadcaster: Broadcaster
    _publisher: KafkaPublisher | None = None

    def publisher(self) -> KafkaPublisher:
        """The process's one Kafka producer (report intake, operator actions), made on first use."""
        if self._publisher is None:
            self._publisher = KafkaPublisher(self.settings)
        return self._publisher

    def flush_publisher(self, timeout: float = 5.0) -> None:
        """At shutdown: wait for what the intake and actions handed to the broker."""
        if self._publisher is not None:
            self._publisher.flush(timeout)


def get_state(request: Request) -> AppState:
    return request.app.state.kendali


State = Annotated[AppState, Depends(get_state)]
