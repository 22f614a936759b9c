"""Who is calling: bearer tokens, roles and agency scope, as FastAPI dependencies.

A token comes as ``Authorization: Bearer <token>``; GET requests may also pass
``?access_token=<token>`` because a browser's ``EventSource`` cannot send headers. ``401``
means no or an unknown token, ``403`` a role or agency the action is not open to; each says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request

from api.deps import State
from kendali.tokens import hash_token, lookup

__all__ = [
    "Authenticated",
    "Caller",
    "Reader",
    "authenticate",
    "hidden_categories",
    "require_role",
    "scope_refusal",
]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kendali"'}

#: Roles that may change incidents, and those that may do so on any agency's incidents.
ACTING_ROLES = ("operator", "supervisor", "admin")
ALL_AGENCY_ROLES = ("supervisor", "admin")


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller: token name, role and (for operators) agency."""

    name: str
    role: str
    agency: str | None

    def as_actor(self) -> tuple[str, str, str | None]:
        return (self.name, self.role, self.agency)


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(401, reason, headers=_CHALLENGE)


def _presented(request: Request, authorization: str | None, access_token: str | None) -> str:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Authorization header must be 'Bearer <token>'")
        return token.strip()
    if access_token:
        if request.method != "GET":
            raise _unauthorized("?access_token= is accepted on GET only; send a Bearer header")
        return access_token
    raise _unauthorized("a token is required: send 'Authorization: Bearer <token>'")


AuthorizationHeader = Annotated[str | None, Header()]
AccessToken = Annotated[
    str | None, Query(description="token, for GET clients that cannot send headers (SSE)")
]


async def authenticate(
    request: Request,
    state: State,
    authorization: AuthorizationHeader = None,
    access_token: AccessToken = None,
) -> Caller:
    """The caller of a request, or ``401``."""
    token = _presented(request, authorization, access_token)
    raw = await state.redis.hget(state.keys.tokens, hash_token(token))
    info = lookup(token, lambda _: raw)
    if info is None:
        raise _unauthorized("unknown or revoked token")
    return Caller(info.name, info.role, info.agency)


Authenticated = Annotated[Caller, Depends(authenticate)]


async def optional_caller(
    request: Request,
    state: State,
    authorization: AuthorizationHeader = None,
    access_token: AccessToken = None,
) -> Caller | None:
    """The caller of a public read: ``None`` without a token; a token that is sent must be
    valid (``401`` otherwise), so a mistyped one is not silently read as "public"."""
    if not authorization and not access_token:
        return None
    return await authenticate(request, state, authorization, access_token)


Reader = Annotated[Caller | None, Depends(optional_caller)]


def hidden_categories(restricted: frozenset[str], caller: Caller | None) -> frozenset[str]:
    """Categories a reader may not see: the city's restricted ones, unless it has a token.

    >>> sorted(hidden_categories(frozenset({"crime"}), None))
    ['crime']
    >>> hidden_categories(frozenset({"crime"}), Caller("wall", "viewer", None))
    frozenset()
    """
    return restricted if caller is None else frozenset()


def require_role(caller: Caller, roles: tuple[str, ...], what: str) -> None:
    """``403`` unless the caller has one of ``roles``."""
    if caller.role not in roles:
        raise HTTPException(
            403, f"{what} needs role {' or '.join(roles)}; token {caller.name!r} is {caller.role}"
        )


def scope_refusal(caller: Caller, agencies: list[str] | tuple[str, ...]) -> str | None:
    """Why the caller may not act on an incident routed to ``agencies``; ``None`` if it may.

    >>> scope_refusal(Caller("ops", "operator", "damkar"), ["bpbd", "dishub"])
    "operator 'ops' of damkar may act only on incidents routed to damkar (this one: bpbd, dishub)"
    >>> scope_refusal(Caller("sup", "supervisor", None), ["bpbd"]) is None
    True
    """
    if caller.role in ALL_AGENCY_ROLES:
        return None
    if caller.role != "operator":
        return f"role {caller.role} may not act on incidents"
    if caller.agency in agencies:
        return None
    return (
        f"operator {caller.name!r} of {caller.agency} may act only on incidents routed to "
        f"{caller.agency} (this one: {', '.join(agencies) or 'no agency'})"
    )
