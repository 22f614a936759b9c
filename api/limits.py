"""Request limits: a cap on body size for every request, and a rate limit on the public intake.

Both are plain ASGI middleware (no per-request ``BaseHTTPMiddleware`` overhead, and SSE streams
pass untouched). The body cap refuses a declared ``Content-Length`` over the limit at once and
stops a chunked upload as soon as it crosses it (``413``). The intake limiter is a token bucket
per client address: ``burst`` reports at once, then ``per_minute`` on average (``429`` with
``Retry-After``). Its memory is bounded: full buckets are forgotten first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from kendali.settings import ApiSettings

__all__ = ["BodyLimit", "IntakeRateLimit", "TokenBucket", "install_limits"]

#: Paths of the public report intake (Open311 service requests).
INTAKE_PATHS = ("/open311/v2/requests.json",)


async def _refuse(send, status: int, body: object, headers: dict[str, str] | None = None):
    raw = orjson.dumps(body)
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


class BodyLimit:
    """Refuse request bodies larger than ``max_bytes`` with ``413`` and the reason.

    A declared ``Content-Length`` is checked before anything is read; a chunked body (no
    length) is read up to the limit first, then handed to the app, so memory stays bounded.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, send, size: str):
        reason = f"request body of {size} bytes exceeds the limit of {self.max_bytes}"
        return _refuse(send, 413, {"detail": reason})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await _refuse(send, 400, {"detail": "Content-Length is not a number"})
            if int(declared) > self.max_bytes:
                return await self._too_large(send, declared.decode())
            return await self.app(scope, receive, send)
        if b"transfer-encoding" not in headers:
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                return await self._too_large(send, f"more than {self.max_bytes}")
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


@dataclass
class TokenBucket:
    """Per-key token buckets: ``burst`` tokens, refilled at ``rate`` per second.

    >>> bucket = TokenBucket(rate=1.0, burst=2, clock=lambda: 100.0)
    >>> [bucket.wait("a") for _ in range(3)]
    [0.0, 0.0, 1.0]
    >>> bucket.wait("b")
    0.0
    """

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 10_000
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def wait(self, key: str) -> float:
        """Take a token for ``key``: ``0.0`` if one was there, else seconds until there is."""
        now = self.clock()
        tokens, last = self.buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._store(key, tokens - 1.0, now)
            return 0.0
        self._store(key, tokens, now)
        return (1.0 - tokens) / self.rate

    def _store(self, key: str, tokens: float, now: float) -> None:
        if key not in self.buckets and len(self.buckets) >= self.max_keys:
            self._forget(now)
        self.buckets[key] = (tokens, now)

    def _forget(self, now: float) -> None:
        """Drop buckets that have refilled (they hold no information), else the oldest half."""
        full = [
            k for k, (t, last) in self.buckets.items() if t + (now - last) * self.rate >= self.burst
        ]
        if not full:
            by_age = sorted(self.buckets, key=lambda k: self.buckets[k][1])
            full = by_age[: len(by_age) // 2 + 1]
        for key in full:
            del self.buckets[key]


class IntakeRateLimit:
    """``429`` for a client address that posts reports faster than its bucket allows."""

    def __init__(self, app, bucket: TokenBucket, paths: tuple[str, ...] = INTAKE_PATHS):
        self.app = app
        self.bucket = bucket
        self.paths = paths

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self.paths:
            client = scope.get("client") or ("unknown", 0)
            wait = self.bucket.wait(client[0])
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                reason = f"too many reports from this address; retry in {seconds} s"
                body = [{"code": 429, "description": reason}]  # GeoReport v2 error shape
                return await _refuse(send, 429, body, {"Retry-After": str(seconds)})
        return await self.app(scope, receive, send)


def install_limits(app, api: ApiSettings) -> None:
    """Add the body cap (outermost) and the intake rate limit to a FastAPI/Starlette app."""
    per_second = api.intake_per_minute / 60.0
    app.add_middleware(IntakeRateLimit, bucket=TokenBucket(per_second, api.intake_burst))
    app.add_middleware(BodyLimit, max_bytes=api.max_body_bytes)
