"""Operator actions on incidents, and each incident's audit log.

The API never writes incident state. An accepted action is published to the actions topic
(keyed by incident id), appended to the incident's audit stream, and then applied by the
dataflow, the single writer; the request waits (up to ``WAIT_S``) until the new version shows
it, and answers ``202`` with the action id if it has not by then.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import ACTING_ROLES, Authenticated, Caller, require_role, scope_refusal
from api.deps import AppState, State
from api.incident_store import load_incident
from api.schemas import IncidentOut, Problem
from detectors.lifecycle import RESULT, merge_refusal, refusal
from kendali.actions import Action, encode, new_action
from sources.publish import KafkaPublisher

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["actions"])

#: How long a request waits for the dataflow to apply its action before answering 202.
WAIT_S = 5.0
_ERRORS = {401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem},
           409: {"model": Problem}, 503: {"model": Problem}}  # fmt: skip


class ActionIn(BaseModel):
    """An operator action: ``agency``/``unit``/``note`` for dispatch, ``note`` for any, ``into``
    (the target incident id) for merge."""

    action: Literal["acknowledge", "dispatch", "resolve", "false_alarm", "merge", "annotate"]
    agency: str | None = Field(None, max_length=40)
    unit: str | None = Field(None, max_length=80)
    note: str | None = Field(None, max_length=2000)
    into: str | None = Field(None, max_length=80)


class ActionResult(BaseModel):
    """The action's id and, once applied, the incident's new version."""

    action_id: str
    applied: bool
    incident: IncidentOut | None = None
    detail: str = ""


class AuditEntry(BaseModel):
    """One line of an incident's audit log: who did what, when, from which state."""

    stream_id: str
    action_id: str
    action: str
    actor: str
    role: str
    agency: str | None
    ts: str
    previous_status: str
    previous_version: int
    fields: dict


class History(BaseModel):
    incident_id: str
    incident: IncidentOut | None
    audit: list[AuditEntry]


async def _incident(state: AppState, incident_id: str, what: str = "incident") -> dict:
    inc = await load_incident(state.redis, state.keys, incident_id)
    if inc is None:
        raise HTTPException(404, f"no {what} {incident_id!r}")
    return inc


def _authorise(caller: Caller, inc: dict) -> None:
    reason = scope_refusal(caller, inc["agencies"])
    if reason:
        raise HTTPException(403, f"{reason}; incident {inc['id']}")


async def _plan(state: AppState, caller: Caller, inc: dict, body: ActionIn) -> list[Action]:
    """The actions to publish (a merge is two: the source's and the target's halves)."""
    reason = refusal(body.action, inc["status"])
    if reason:
        raise HTTPException(409, f"{reason}; incident {inc['id']} version {inc['version']}")
    fields = {k: v for k, v in body.model_dump(exclude={"action", "into"}).items() if v}
    if body.agency and body.agency not in state.city.agencies:
        known = ", ".join(sorted(state.city.agencies))
        raise HTTPException(422, f"unknown agency {body.agency!r}; known: {known}")
    now = datetime.now(UTC)
    actor = caller.as_actor()
    if body.action != "merge":
        return [new_action(inc["id"], inc["zone"], body.action, actor, now, fields)]
    if not body.into:
        raise HTTPException(422, "a merge needs 'into': the id of the incident to merge into")
    target = await load_incident(state.redis, state.keys, body.into)
    reason = merge_refusal(inc["id"], body.into, target["status"] if target else None)
    if reason:
        raise HTTPException(409 if target else 404, reason)
    _authorise(caller, target)
    absorb = {"source": inc["id"], "evidence": inc["evidence"], "sources": inc["sources"]}
    return [
        new_action(inc["id"], inc["zone"], "merge", actor, now, {**fields, "into": body.into}),
        new_action(target["id"], target["zone"], "absorb", actor, now, {**fields, **absorb}),
    ]


def _send(pub: KafkaPublisher, actions: list[Action]) -> None:
    for action in actions:
        pub("actions", action.incident_id.encode(), encode(action))
    pub.flush(5.0)


async def _audit(state: AppState, action: Action, previous: dict) -> None:
    await state.redis.xadd(
        state.keys.audit(action.incident_id),
        {
            "action_id": action.id,
            "action": action.action,
            "actor": action.actor,
            "role": action.role,
            "agency": action.agency or "",
            "ts": action.ts.isoformat(),
            "previous_status": previous["status"],
            "previous_version": previous["version"],
            "fields": orjson.dumps(
                {k: v for k, v in action.fields.items() if k not in ("evidence", "sources")}
            ),
        },
    )


async def _applied(state: AppState, inc: dict, action: str) -> dict | None:
    """Poll until the incident's version moves past ``inc`` in the state ``action`` leads to."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        now = await load_incident(state.redis, state.keys, inc["id"])
        if now and now["version"] > inc["version"] and now["status"] == RESULT[action]:
            return now
        await asyncio.sleep(0.1)
    return None


@router.post("/incidents/{incident_id}/actions", response_model=ActionResult, responses=_ERRORS)
async def act(
    incident_id: str,
    request: Request,
    state: State,
    caller: Authenticated,
    body: Annotated[ActionIn, Body()],
):
    """Acknowledge, dispatch, resolve, mark false alarm, merge or annotate one incident."""
    require_role(caller, ACTING_ROLES, "acting on incidents")
    inc = await _incident(state, incident_id)
    _authorise(caller, inc)
    actions = await _plan(state, caller, inc, body)
    try:
        await asyncio.to_thread(_send, state.publisher(), actions)
    except Exception as exc:  # the broker's errors are many; all mean "not recorded"
        raise HTTPException(503, f"action not recorded, actions topic unavailable: {exc}") from None
    previous = {inc["id"]: inc}
    if len(actions) == 2:
        previous[actions[1].incident_id] = await _incident(state, actions[1].incident_id)
    for action in actions:
        await _audit(state, action, previous[action.incident_id])
    first = actions[0]
    if body.action == "annotate":
        return {"action_id": first.id, "applied": True, "incident": inc}
    done = await _applied(state, inc, body.action)
    if done is None:
        detail = f"accepted; the dataflow has not applied it within {WAIT_S:.0f} s"
        return JSONResponse({"action_id": first.id, "applied": False, "detail": detail}, 202)
    return {"action_id": first.id, "applied": True, "incident": done}


@router.get(
    "/incidents/{incident_id}/history",
    response_model=History,
    responses={401: {"model": Problem}, 404: {"model": Problem}},
)
async def history(incident_id: str, state: State, caller: Authenticated) -> dict:
    """The incident's audit log, oldest first (append-only: no endpoint edits it)."""
    inc = await load_incident(state.redis, state.keys, incident_id)
    entries = await state.redis.xrange(state.keys.audit(incident_id))
    if inc is None and not entries:
        raise HTTPException(404, f"no incident {incident_id!r}")
    audit = []
    for stream_id, raw in entries:
        row = {k.decode(): v.decode() for k, v in raw.items()}
        row.update(
            stream_id=stream_id.decode(),
            agency=row["agency"] or None,
            previous_version=int(row["previous_version"]),
            fields=orjson.loads(row["fields"]),
        )
        audit.append(row)
    return {"incident_id": incident_id, "incident": inc, "audit": audit}
