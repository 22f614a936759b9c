"""The incident lifecycle: which operator action is allowed in which state, and where it leads.

One table, read by both sides: the API refuses a disallowed action with ``409`` before
publishing it, and the incident book (the only writer of incident state) checks again when the
action arrives, since another action may have won the race in between.

>>> refusal("acknowledge", "new") is None
True
>>> refusal("acknowledge", "dispatched")
"cannot acknowledge an incident that is 'dispatched' (allowed from: new)"
>>> RESULT["dispatch"]
'dispatched'
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from kendali.records import INCIDENT_STATUSES

__all__ = [
    "ACTIVE",
    "ALLOWED",
    "OPERATOR_ACTIONS",
    "RESULT",
    "LifecycleRules",
    "load_lifecycle_rules",
    "merge_refusal",
    "refusal",
]

#: States in which an incident still needs someone (fusion attaches new evidence to them).
ACTIVE = ("new", "acknowledged", "dispatched")

#: Actions an operator may request through the API.
OPERATOR_ACTIONS = ("acknowledge", "dispatch", "resolve", "false_alarm", "merge", "annotate")

#: action -> states it is allowed from. ``absorb`` is the target's half of a merge (internal).
ALLOWED: dict[str, tuple[str, ...]] = {
    "acknowledge": ("new",),
    "dispatch": ACTIVE,
    "resolve": ACTIVE,
    "false_alarm": (*ACTIVE, "resolved"),
    "merge": ACTIVE,
    "annotate": INCIDENT_STATUSES,
    "absorb": (*ACTIVE, "resolved"),
}

#: action -> the state it leads to (actions absent here leave the state as it is).
RESULT = {
    "acknowledge": "acknowledged",
    "dispatch": "dispatched",
    "resolve": "resolved",
    "false_alarm": "false_alarm",
    "merge": "merged",
}


def refusal(action: str, status: str) -> str | None:
    """Why ``action`` is not allowed on an incident in ``status``; ``None`` when it is."""
    allowed = ALLOWED.get(action)
    if allowed is None:
        return f"unknown action {action!r}; expected one of {', '.join(ALLOWED)}"
    if status not in allowed:
        return (
            f"cannot {action} an incident that is {status!r} (allowed from: {', '.join(allowed)})"
        )
    return None


def merge_refusal(source_id: str, target_id: str, target_status: str | None) -> str | None:
    """Why an incident cannot be merged into ``target_id``; ``None`` when it can.

    >>> merge_refusal("INC-1", "INC-1", "new")
    'cannot merge an incident into itself'
    >>> merge_refusal("INC-1", "INC-2", "closed")
    "merge target INC-2 is 'closed'; it must be new, acknowledged, dispatched or resolved"
    """
    if source_id == target_id:
        return "cannot merge an incident into itself"
    if target_status is None:
        return f"merge target {target_id} does not exist"
    if target_status not in ALLOWED["absorb"]:
        return (
            f"merge target {target_id} is {target_status!r}; it must be new, acknowledged, "
            "dispatched or resolved"
        )
    return None


@dataclass(frozen=True, slots=True)
class LifecycleRules:
    """Timings of the automatic part of the lifecycle (configured per city).

    ``resolve_after``: every signal back to normal this long resolves the incident.
    ``reopen_within``: new evidence this soon after resolution reopens it (later: a new one).
    ``suppress_for``: how long the evidence of an operator-resolved or false-alarm incident is
    kept from raising it again. ``close_after``: a finished incident is closed and forgotten.
    """

    resolve_after: timedelta = timedelta(minutes=15)
    reopen_within: timedelta = timedelta(minutes=60)
    suppress_for: timedelta = timedelta(hours=12)
    close_after: timedelta = timedelta(hours=6)


def load_lifecycle_rules(path: Path | None) -> LifecycleRules:
    """The ``[lifecycle]`` table of a city's ``fusion.toml`` (minutes); defaults when absent.

    >>> load_lifecycle_rules(None).resolve_after
    datetime.timedelta(seconds=900)
    """
    if path is None or not Path(path).exists():
        return LifecycleRules()
    table = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("lifecycle", {})
    defaults = LifecycleRules()
    values = {}
    for name in ("resolve_after", "reopen_within", "suppress_for", "close_after"):
        minutes = table.get(f"{name}_min")
        if minutes is None:
            values[name] = getattr(defaults, name)
        elif isinstance(minutes, int | float) and minutes >= 0:
            values[name] = timedelta(minutes=minutes)
        else:
            raise ValueError(
                f"{path}: [lifecycle] {name}_min must be minutes >= 0, got {minutes!r}"
            )
    return LifecycleRules(**values)
