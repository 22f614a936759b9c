"""One reader of the alert stream per API process, fanned out to every live client.

Each SSE client would otherwise hold its own blocking ``XREAD`` connection; with hundreds of
wall screens that is hundreds of Redis connections. Here one task reads the stream and pushes
entries into a bounded queue per subscriber. A client that resumes (``Last-Event-ID``) first
catches up from Redis with ``XRANGE``, then continues from the live queue, skipping what it
already sent, so nothing is lost or shown twice. A client too slow to keep up is disconnected;
its browser reconnects with its last id and catches up from Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import redis
import redis.asyncio as aioredis

__all__ = ["Broadcaster", "Entry", "parse_id"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Entry:
    """One alert-stream entry: its id and the incident JSON bytes."""

    id: str
    data: bytes


def parse_id(stream_id: str) -> tuple[int, int]:
    """A Redis stream id as a comparable pair; raises ``ValueError`` for anything else.

    >>> parse_id("1700000000000-3") > parse_id("1700000000000-2")
    True
    """
    ms, _, seq = stream_id.partition("-")
    return (int(ms), int(seq or 0))


class SlowClient(Exception):
    """The subscriber's queue overflowed; it must reconnect and catch up from Redis."""


#: Entries a subscriber may have queued before it counts as too slow.
MAX_QUEUED = 20_000


@dataclass(eq=False)
class Subscriber:
    """One client's queue of entry batches (one batch per stream read, shared by all)."""

    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    queued: int = 0
    overflowed: bool = False

    def offer(self, batch: list[Entry]) -> None:
        if self.queued + len(batch) > MAX_QUEUED:
            self.overflowed = True
            return
        self.queued += len(batch)
        self.queue.put_nowait(batch)

    async def take(self) -> list[Entry]:
        """Everything queued, waiting for at least one batch."""
        batch = list(await self.queue.get())
        while not self.queue.empty():
            batch.extend(self.queue.get_nowait())
        self.queued -= len(batch)
        return batch


class Broadcaster:
    """Reads ``stream`` from ``"$"`` onwards and offers every entry to every subscriber."""

    def __init__(self, client: aioredis.Redis, stream: str):
        self.client = client
        self.stream = stream
        self.subscribers: set[Subscriber] = set()
        self.task: asyncio.Task | None = None
        self.stopping = False

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="alert-broadcaster")

    async def stop(self) -> None:
        """Stop reading. redis-py may turn the cancellation of a blocked ``XREAD`` into a
        connection error, which the loop would retry, so a flag ends the loop as well."""
        self.stopping = True
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(self.task, timeout=5)

    async def _run(self) -> None:
        last = None
        while not self.stopping:
            try:
                if last is None:
                    newest = await self.client.xrevrange(self.stream, count=1)
                    last = newest[0][0].decode() if newest else "0-0"
                reply = await self.client.xread({self.stream: last}, block=1000, count=1000)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                if self.stopping:
                    return
                log.warning("alert stream unreadable (%s); retrying", exc)
                await asyncio.sleep(1.0)
                continue
            for _stream, entries in reply or []:
                batch = [Entry(raw_id.decode(), fields[b"incident"]) for raw_id, fields in entries]
                last = batch[-1].id
                for sub in self.subscribers:
                    sub.offer(batch)

    async def _catch_up(self, after: str) -> AsyncIterator[Entry]:
        first = await self.client.xrange(self.stream, count=1)
        if first and after != "0-0" and parse_id(first[0][0].decode()) > parse_id(after):
            # The client's last event was trimmed away: it must reload the full list.
            yield Entry("", b"")
        cursor = after
        while True:
            page = await self.client.xrange(self.stream, min=f"({cursor}", count=500)
            if not page:
                return
            for raw_id, fields in page:
                cursor = raw_id.decode()
                yield Entry(cursor, fields[b"incident"])

    async def subscribe(self, after: str | None) -> AsyncIterator[list[Entry]]:
        """Entries after ``after`` (catch-up from Redis), then live ones; ``None`` = live only.

        Live entries come in batches of whatever queued up meanwhile, so a busy server writes
        fewer, larger chunks instead of falling behind one entry at a time. An entry with an
        empty id means "your position is gone: reload, then resume".
        """
        sub = Subscriber()
        self.subscribers.add(sub)
        try:
            sent = parse_id(after) if after else (0, 0)
            if after:
                async for entry in self._catch_up(after):
                    if entry.id:
                        sent = parse_id(entry.id)
                    yield [entry]
            while True:
                if sub.overflowed:
                    raise SlowClient("client too slow for the alert stream")
                batch = await sub.take()
                skip = 0  # live entries already sent during the catch-up come first
                while skip < len(batch) and parse_id(batch[skip].id) <= sent:
                    skip += 1
                if skip < len(batch):
                    sent = parse_id(batch[-1].id)
                    yield batch[skip:]
        finally:
            self.subscribers.discard(sub)
