"""Retrying Redis calls: an outage makes the dataflow wait, never skip.

A sink that gives up loses data (Bytewax would count the epoch as done), and a sink that raises
kills the flow. So connection errors are retried with capped exponential back-off until Redis is
back, logging once per outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import redis

__all__ = ["retry_forever"]

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRIABLE = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


def retry_forever(
    call: Callable[[], T],
    what: str,
    *,
    first: float = 0.1,
    cap: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call`` until it succeeds; back off on connection errors only.

    >>> attempts = []
    >>> def flaky():
    ...     attempts.append(1)
    ...     if len(attempts) < 3:
    ...         raise redis.ConnectionError("down")
    ...     return "ok"
    >>> retry_forever(flaky, "test", sleep=lambda s: None), len(attempts)
    ('ok', 3)
    """
    delay = first
    failures = 0
    while True:
        try:
            result = call()
        except RETRIABLE as exc:
            failures += 1
            if failures == 1:
                log.warning(
                    "redis unavailable during %s (%s); retrying until it is back", what, exc
                )
            sleep(delay)
            delay = min(cap, delay * 2)
            continue
        if failures:
            log.warning("redis back after %d failed attempts during %s", failures, what)
        return result
