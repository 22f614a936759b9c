"""API bearer tokens: created once, shown once, stored only as a SHA-256 hash in Redis.

``P:tokens`` maps the token's SHA-256 (hex) to a JSON record: name, role, agency, creation
time. A stolen Redis dump gives no usable token. Roles, from least to most: ``viewer`` (reads),
``operator`` (acts on incidents routed to its agency), ``supervisor`` and ``admin`` (act on
all). ``kendali token create|list|revoke`` manages them (:func:`add_cli`).

>>> len(hash_token("kdl_x")), token_id(hash_token("kdl_x"))
(64, 'ee560fb678d7')
>>> check_grant("operator", None)
'an operator token needs --agency (the agency whose incidents it may act on)'
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import orjson
import redis

from kendali.settings import Settings
from kendali.store import Keys

__all__ = [
    "ROLES",
    "TokenInfo",
    "add_cli",
    "check_grant",
    "create_token",
    "hash_token",
    "issue_demo_tokens",
    "list_tokens",
    "lookup",
    "revoke_tokens",
    "token_id",
]

ROLES = ("viewer", "operator", "supervisor", "admin")
PREFIX = "kdl_"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a token grants; ``sha256`` is the stored hash, ``id`` its short public form."""

    sha256: str
    name: str
    role: str
    agency: str | None
    created: str

    @property
    def id(self) -> str:
        return token_id(self.sha256)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(digest: str) -> str:
    """Short public id of a token (the first 12 hex digits of its hash), for lists and revoke."""
    return digest[:12]


def check_grant(
    role: str, agency: str | None, agencies: frozenset[str] | None = None
) -> str | None:
    """Why a role/agency pair cannot be granted; ``None`` when it can."""
    if role not in ROLES:
        return f"unknown role {role!r}; expected one of {', '.join(ROLES)}"
    if role == "operator" and not agency:
        return "an operator token needs --agency (the agency whose incidents it may act on)"
    if agency and agencies is not None and agency not in agencies:
        return f"unknown agency {agency!r}; the city's agencies: {', '.join(sorted(agencies))}"
    return None


def _record(info: TokenInfo) -> bytes:
    return orjson.dumps(asdict(info))


def _info(raw: bytes) -> TokenInfo:
    return TokenInfo(**orjson.loads(raw))


def create_token(
    r: redis.Redis,
    keys: Keys,
    role: str,
    agency: str | None = None,
    name: str | None = None,
    agencies: frozenset[str] | None = None,
) -> tuple[str, TokenInfo]:
    """A new token (returned once, never stored) and what it grants; names are unique."""
    reason = check_grant(role, agency, agencies)
    if reason:
        raise ValueError(reason)
    token = PREFIX + secrets.token_urlsafe(32)
    digest = hash_token(token)
    name = name or f"{role}-{agency or 'all'}-{token_id(digest)[:6]}"
    if any(t.name == name for t in list_tokens(r, keys)):
        raise ValueError(f"a token named {name!r} exists; revoke it first or choose another name")
    info = TokenInfo(digest, name, role, agency, datetime.now(UTC).isoformat(timespec="seconds"))
    r.hset(keys.tokens, digest, _record(info))
    return token, info


def list_tokens(r: redis.Redis, keys: Keys) -> list[TokenInfo]:
    """Every token's grant (never the token itself), by name."""
    return sorted((_info(raw) for raw in r.hvals(keys.tokens)), key=lambda t: t.name)


def revoke_tokens(r: redis.Redis, keys: Keys, name_or_id: str) -> list[TokenInfo]:
    """Revoke the token with this name, or those whose id starts with it (6+ characters)."""
    gone = [
        t
        for t in list_tokens(r, keys)
        if t.name == name_or_id or (len(name_or_id) >= 6 and t.sha256.startswith(name_or_id))
    ]
    if gone:
        r.hdel(keys.tokens, *(t.sha256 for t in gone))
    return gone


def lookup(token: str, raw_by_digest: Callable[[str], bytes | None]) -> TokenInfo | None:
    """The grant of a presented token, or ``None``; ``raw_by_digest`` reads ``P:tokens``.

    The record is found by the token's hash; the stored hash is then compared in constant time.
    """
    digest = hash_token(token)
    raw = raw_by_digest(digest)
    if raw is None:
        return None
    info = _info(raw)
    return info if hmac.compare_digest(info.sha256, digest) else None


def issue_demo_tokens(settings: Settings) -> dict[str, str]:
    """For ``kendali demo``: a fresh supervisor token and a viewer token for the wall.

    Returns ``{"supervisor": token, "wall": token}``; earlier demo tokens are revoked first.
    """
    r = redis.Redis.from_url(settings.redis.url)
    keys = Keys(settings.redis.prefix)
    out = {}
    for name, role in (("demo-supervisor", "supervisor"), ("demo-wall", "viewer")):
        revoke_tokens(r, keys, name)
        out["supervisor" if role == "supervisor" else "wall"] = create_token(
            r, keys, role, name=name
        )[0]
    r.close()
    return out


def _cmd(args: argparse.Namespace, settings: Settings) -> int:
    r = redis.Redis.from_url(settings.redis.url, socket_connect_timeout=3)
    try:
        return _run(args, settings, r, Keys(settings.redis.prefix))
    except redis.RedisError as exc:
        raise OSError(f"token store (Redis at {settings.redis.url}): {exc}") from None
    finally:
        r.close()


def _run(args: argparse.Namespace, settings: Settings, r: redis.Redis, keys: Keys) -> int:
    from kendali.city import load_city

    if args.token_command == "create":
        agencies = frozenset(load_city(settings.city).agencies)
        token, info = create_token(r, keys, args.role, args.agency, args.name, agencies)
        print(token)
        print(f"(name {info.name}, role {info.role}, agency {info.agency or '-'}; shown once)")
    elif args.token_command == "list":
        for t in list_tokens(r, keys):
            print(f"{t.id}  {t.name:24} {t.role:10} {t.agency or '-':10} {t.created}")
    else:
        gone = revoke_tokens(r, keys, args.what)
        if not gone:
            raise ValueError(f"no token named {args.what!r} or with an id starting with it")
        print("revoked: " + ", ".join(f"{t.name} ({t.id})" for t in gone))
    return 0


def add_cli(sub: argparse._SubParsersAction, settings_of: Callable[[argparse.Namespace], Settings]):
    """Add ``kendali token create|list|revoke`` to the ``kendali`` command's subparsers."""
    p = sub.add_parser("token", help="create, list or revoke API tokens")
    tsub = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    c = tsub.add_parser("create", help="create a token and print it (shown once)")
    c.add_argument("--role", required=True, choices=ROLES)
    c.add_argument("--agency", default=None, help="agency code (required for operators)")
    c.add_argument("--name", default=None, help="unique name (default: role-agency-id)")
    tsub.add_parser("list", help="list tokens (ids, names, roles; never the tokens)")
    rv = tsub.add_parser("revoke", help="revoke a token by name or id prefix")
    rv.add_argument("what", metavar="NAME|ID")
    p.set_defaults(func=lambda args: _cmd(args, settings_of(args)))
