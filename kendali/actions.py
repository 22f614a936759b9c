"""Operator actions as records: what the API publishes and the dataflow's incident book applies.

The API never writes incident state; it publishes an :class:`Action` to the actions topic
(keyed by incident id) and the dataflow, the single writer, applies it. ``decode_action`` is the
dataflow's decoder for that topic: it never raises, bad messages become :class:`Rejected`.

>>> from datetime import datetime, timezone
>>> a = Action("a1", "INC-1", "Balikpapan Kota", "dispatch", "ops-1", "operator", "damkar",
...            datetime(2026, 11, 27, 1, 0, tzinfo=timezone.utc), {"unit": "PMK-03"})
>>> decode_action(encode(a)) == a
True
>>> decode_action(b'{"schema": 1, "id": "x"}').reason[:16]
'missing field(s)'
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from kendali.codec import Rejected, encode, parse_ts

__all__ = ["ACTIONS", "Action", "decode_action", "encode", "new_action"]

#: Every action the incident book understands (``absorb`` is the target's half of a merge).
ACTIONS = ("acknowledge", "dispatch", "resolve", "false_alarm", "merge", "annotate", "absorb")

_REQUIRED = ("id", "incident_id", "action", "actor", "role", "ts")
_MAX_BYTES = 262_144


@dataclass(frozen=True, slots=True)
class Action:
    """One operator action on one incident.

    ``fields`` holds the action's own parameters: ``agency``/``unit``/``note`` for a dispatch,
    ``note`` for an annotation, ``into`` for a merge, ``source``/``evidence``/``sources`` for
    the absorb half of a merge. ``zone`` is the incident's zone (the dataflow's routing key).
    """

    SCHEMA = 1

    id: str
    incident_id: str
    zone: str | None
    action: str
    actor: str
    role: str
    agency: str | None
    ts: datetime
    fields: dict = field(default_factory=dict, compare=False, hash=False)


def new_action(
    incident_id: str,
    zone: str | None,
    action: str,
    actor: tuple[str, str, str | None],
    ts: datetime,
    fields: dict | None = None,
) -> Action:
    """An action with a fresh id; ``actor`` is (name, role, agency)."""
    name, role, agency = actor
    return Action(uuid.uuid4().hex, incident_id, zone, action, name, role, agency, ts, fields or {})


def _text(obj: dict, name: str, optional: bool = False) -> str | None:
    value = obj.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _check_fields(action: str, fields: object) -> dict:
    if not isinstance(fields, dict):
        raise ValueError(f"fields must be an object, got {type(fields).__name__}")
    if action == "merge" and not isinstance(fields.get("into"), str):
        raise ValueError("a merge needs fields.into (the target incident id)")
    if action == "absorb":
        if not isinstance(fields.get("source"), str):
            raise ValueError("an absorb needs fields.source (the merged incident id)")
        for name in ("evidence", "sources"):
            values = fields.get(name, [])
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ValueError(f"fields.{name} must be a list of strings")
    return fields


def decode_action(raw: bytes | None) -> Action | Rejected:
    """An :class:`Action` from its JSON form, or why not."""
    if raw is None:
        return Rejected("empty message (no value)")
    if len(raw) > _MAX_BYTES:
        return Rejected(f"action of {len(raw)} bytes exceeds the limit of {_MAX_BYTES}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejected(f"not JSON: {exc}")
    if not isinstance(obj, dict):
        return Rejected(f"expected a JSON object, got {type(obj).__name__}")
    missing = [name for name in _REQUIRED if name not in obj]
    if missing:
        return Rejected(f"missing field(s): {', '.join(missing)}")
    if obj.get("schema", 1) != Action.SCHEMA:
        return Rejected(f"unsupported action schema {obj.get('schema')!r} (this build reads 1)")
    try:
        action = _text(obj, "action")
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
        return Action(
            id=_text(obj, "id"),
            incident_id=_text(obj, "incident_id"),
            zone=_text(obj, "zone", optional=True),
            action=action,
            actor=_text(obj, "actor"),
            role=_text(obj, "role"),
            agency=_text(obj, "agency", optional=True),
            ts=parse_ts(obj["ts"]),
            fields=_check_fields(action, obj.get("fields", {})),
        )
    except ValueError as exc:
        return Rejected(f"invalid action: {exc}")
