"""The live alert feed as Server-Sent Events, resumable with ``Last-Event-ID``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from api.auth import authenticate
from api.broadcast import Broadcaster, Entry, SlowClient, parse_id
from api.deps import State
from api.schemas import Problem

router = APIRouter(prefix="/api", tags=["stream"])

HEARTBEAT_S = 15.0


def _frame(entry: Entry) -> bytes:
    if not entry.id:
        return b'event: reset\ndata: {"reason": "position trimmed; reload incidents"}\n\n'
    return b"id: " + entry.id.encode() + b"\nevent: incident\ndata: " + entry.data + b"\n\n"


def _wanted(entry: Entry, agency: frozenset[str], zone: frozenset[str]) -> bool:
    if not entry.id or not (agency or zone):
        return True
    inc = orjson.loads(entry.data)
    if agency and not agency.intersection(inc.get("agencies", ())):
        return False
    return not (zone and inc.get("zone") not in zone)


async def _events(
    request: Request,
    broadcaster: Broadcaster,
    after: str | None,
    agency: frozenset[str],
    zone: frozenset[str],
) -> AsyncIterator[bytes]:
    yield b"retry: 2000\n\n"
    entries = broadcaster.subscribe(after).__aiter__()
    pending = None
    try:
        while True:
            pending = pending or asyncio.ensure_future(entries.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_S)
            if not done:
                if await request.is_disconnected():
                    return
                yield b"event: ping\ndata: {}\n\n"  # a named event: pages can watch for silence
                continue
            batch, pending = pending.result(), None
            chunk = b"".join(_frame(entry) for entry in batch if _wanted(entry, agency, zone))
            if chunk:
                yield chunk
    except (SlowClient, StopAsyncIteration):
        return
    finally:
        if pending:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await entries.aclose()


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 401: {"model": Problem}},
    dependencies=[Depends(authenticate)],
)
async def stream(
    request: Request,
    state: State,
    last_event_id: Annotated[str | None, Header()] = None,
    since: Annotated[
        str | None, Query(description="stream id to resume after (as Last-Event-ID)")
    ] = None,
    agency: Annotated[
        str | None, Query(description="only incidents routed to these agencies")
    ] = None,
    zone: Annotated[str | None, Query(description="only incidents in these zones")] = None,
) -> StreamingResponse:
    """Incident versions as they are written: ``id`` is the alert-stream id, ``data`` the JSON.

    Resume after a disconnect with the ``Last-Event-ID`` header (browsers send it by themselves)
    or ``?since=``; without either, the stream starts with the next new alert. Needs a token
    (``Authorization: Bearer`` or, for ``EventSource``, ``?access_token=``).
    """
    after = last_event_id or since
    if after:
        try:
            parse_id(after)
        except ValueError:
            raise HTTPException(
                422, f"Last-Event-ID must be a stream id like 1700000000000-0, got {after!r}"
            ) from None
    agencies = frozenset(a for a in (agency or "").split(",") if a)
    zones = frozenset(z for z in (zone or "").split(",") if z)
    return StreamingResponse(
        _events(request, state.broadcaster, after, agencies, zones),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
