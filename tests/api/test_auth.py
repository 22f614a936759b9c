"""Tokens (stored hashed), roles and agency scope, on a real Redis."""

from __future__ import annotations

import pytest

from kendali.tokens import check_grant, create_token, hash_token, list_tokens, revoke_tokens
from tests.api.conftest import incident


def test_tokens_are_stored_hashed_listed_and_revoked(api):
    token, info = create_token(api.redis, api.keys, "operator", "damkar", name="ops-damkar")
    stored = api.redis.hgetall(api.keys.tokens)
    assert token.encode() not in b"".join([*stored, *stored.values()])
    assert hash_token(token).encode() in stored
    assert [t.name for t in list_tokens(api.redis, api.keys)] == ["ops-damkar"]
    with pytest.raises(ValueError, match="exists"):
        create_token(api.redis, api.keys, "viewer", name="ops-damkar")
    assert [t.name for t in revoke_tokens(api.redis, api.keys, info.id)] == ["ops-damkar"]
    assert list_tokens(api.redis, api.keys) == []


def test_grants_are_checked():
    assert check_grant("operator", "damkar", frozenset({"damkar"})) is None
    assert "unknown role" in check_grant("root", None)
    assert "unknown agency" in check_grant("operator", "nasa", frozenset({"damkar"}))


def test_missing_malformed_unknown_and_revoked_tokens_are_401_with_a_reason(api):
    c = api.client
    r = c.get("/api/incidents/INC-a/history")
    assert r.status_code == 401 and "token is required" in r.json()["detail"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = c.get("/api/incidents/INC-a/history", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401 and "Bearer" in r.json()["detail"]
    r = c.get("/api/incidents/INC-a/history", headers={"Authorization": "Bearer kdl_nope"})
    assert r.status_code == 401 and "unknown or revoked" in r.json()["detail"]
    assert c.get("/api/stream").status_code == 401


def test_query_token_works_for_get_only(api):
    token = api.token("viewer")["Authorization"].split()[1]
    api.write(incident())
    r = api.client.get(f"/api/incidents/INC-a/history?access_token={token}")
    assert r.status_code == 200
    r = api.client.post(
        f"/api/incidents/INC-a/actions?access_token={token}", json={"action": "acknowledge"}
    )
    assert r.status_code == 401 and "GET only" in r.json()["detail"]


def test_viewers_cannot_act_and_operators_only_on_their_agency(api):
    api.write(incident())
    viewer, police_far = api.token("viewer"), api.token("operator", "bpbd")
    r = api.client.post("/api/incidents/INC-a/actions", json={"action": "acknowledge"},
                        headers=viewer)  # fmt: skip
    assert r.status_code == 403 and "operator or supervisor or admin" in r.json()["detail"]
    r = api.client.post("/api/incidents/INC-a/actions", json={"action": "acknowledge"},
                        headers=police_far)  # fmt: skip
    assert r.status_code == 403 and "routed to bpbd" in r.json()["detail"]


def test_the_token_command_creates_lists_and_revokes(api, monkeypatch, capsys):
    from kendali.cli import main

    for name, value in api.settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert (
        main(["token", "create", "--role", "operator", "--agency", "damkar", "--name", "d1"]) == 0
    )
    token = capsys.readouterr().out.splitlines()[0]
    assert token.startswith("kdl_") and api.redis.hexists(api.keys.tokens, hash_token(token))
    assert main(["token", "create", "--role", "operator", "--agency", "nasa"]) == 1
    assert "unknown agency" in capsys.readouterr().err
    assert main(["token", "list"]) == 0 and " d1 " in capsys.readouterr().out
    assert main(["token", "revoke", "d1"]) == 0 and "revoked: d1" in capsys.readouterr().out
    assert main(["token", "revoke", "d1"]) == 1
