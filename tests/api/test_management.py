"""The management API: keys and usage, each user seeing only their own."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from apiany.api.app import create_api
from apiany.core.db import session_scope
from apiany.core.security import hash_token
from apiany.models import ApiKey, AuditLog, UsageRecord
from sqlmodel import select


@pytest.fixture
def app_client(db_url):
    from apiany.core.db import session_scope as scope
    from tests.factories import add_model

    with scope() as s:
        add_model(s, "sandbox-chat", "chat")
    return lambda: TestClient(create_api())


def signed_in(make_client, email: str) -> TestClient:
    client = make_client()
    r = client.post("/api/auth/signup", json={"email": email, "password": "long enough pw"})
    assert r.status_code in (200, 201), r.text
    return client


def test_key_lifecycle_and_secret_shown_once(app_client):
    alice = signed_in(app_client, "alice@example.com")
    r = alice.post("/api/keys", json={"name": "ci", "app_name": "bot", "rpm_limit": 30,
                                      "budget": "2.5", "model_scope": ["sandbox-chat"]})
    assert r.status_code == 201
    secret = r.json()["key"]
    assert secret.startswith("sk-") and len(secret) >= 3 + 43
    public = r.json()["api_key"]
    assert public["display"] == f"{secret[:7]}...{secret[-4:]}"
    assert "key_hash" not in public
    assert (public["budget"], public["budget_credits"]) == (2_500_000, "2.5")  # budget is given in credits
    listed = alice.get("/api/keys").json()["data"]
    assert [k["name"] for k in listed] == ["ci"] and secret not in str(listed)
    with session_scope() as s:
        row = s.exec(select(ApiKey)).one()
        assert row.key_hash == hash_token(secret)
        audit_text = str([a.details for a in s.exec(select(AuditLog))])
        assert secret not in audit_text
    key_id = public["id"]
    assert alice.post(f"/api/keys/{key_id}/disable").json()["status"] == "disabled"
    assert alice.post(f"/api/keys/{key_id}/enable").json()["status"] == "active"
    assert alice.patch(f"/api/keys/{key_id}", json={"rpm_limit": 0}).json()["rpm_limit"] is None
    # an explicit null on a required field leaves it unchanged; a zone-less time is UTC
    r = alice.patch(f"/api/keys/{key_id}", json={"name": None, "status": None, "log_content": None,
                                                 "expires_at": "2030-01-01T00:00:00", "budget": 0})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["status"], r.json()["budget"]) == ("ci", "active", None)
    assert r.json()["expires_at"].startswith("2030-01-01T00:00:00")
    assert alice.post(f"/api/keys/{key_id}/revoke").json()["status"] == "revoked"
    r = alice.patch(f"/api/keys/{key_id}", json={"name": "again"})
    assert r.status_code == 400 and "revoked" in r.json()["error"]["message"]


@pytest.mark.parametrize("body, field", [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x", "budget": 10**30}, "budget"),
    ({"name": "x", "budget": "0.0000001"}, "budget"),
    ({"name": "x", "rpm_limit": -1}, "rpm_limit"),
    ({"name": "x", "budget_period": "weekly"}, "budget_period"),
    ({"name": "x", "model_scope": ["nope"]}, "model_scope"),
])
def test_bad_key_input_names_the_field(app_client, body, field):
    alice = signed_in(app_client, "alice@example.com")
    r = alice.post("/api/keys", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == field
    assert alice.get("/api/keys").json()["data"] == []


def test_users_never_see_each_others_keys_or_usage(app_client):
    alice = signed_in(app_client, "alice@example.com")
    bob = signed_in(app_client, "bob@example.com")
    key_id = alice.post("/api/keys", json={"name": "a"}).json()["api_key"]["id"]
    with session_scope() as s:
        owner = s.exec(select(ApiKey)).one().user_id
        s.add(UsageRecord(request_id="req_alice", user_id=owner, api_key_id=key_id, public_model="sandbox-chat"))
    assert bob.get("/api/keys").json()["data"] == []
    for method, path in [("post", f"/api/keys/{key_id}/disable"), ("post", f"/api/keys/{key_id}/revoke"),
                         ("patch", f"/api/keys/{key_id}")]:
        r = getattr(bob, method)(path, **({"json": {"name": "mine"}} if method == "patch" else {}))
        assert r.status_code == 404, path
    assert bob.get("/api/usage").json()["total"] == 0
    assert bob.get("/api/usage/req_alice").status_code == 404
    assert alice.get("/api/usage").json()["total"] == 1
    assert alice.get("/api/usage/req_alice").json()["usage"]["request_id"] == "req_alice"
    with session_scope() as s:
        assert s.get(ApiKey, key_id).status == "active"


def test_anonymous_is_401(app_client):
    client = app_client()
    assert client.get("/api/keys").status_code == 401
    assert client.post("/api/keys", json={"name": "x"}).status_code == 401
    assert client.get("/api/usage").status_code == 401


def test_oversized_management_bodies_are_refused_before_reading(app_client):
    client = app_client()
    big = b'{"email": "a@example.com", "password": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = client.post("/api/auth/login", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["error"]["message"]

    def chunks():
        yield b'{"email": "a@example.com", "password": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    r = client.post("/api/auth/login", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_huge_ids_and_offsets_are_400_not_500(app_client):
    alice = signed_in(app_client, "alice@example.com")
    assert alice.post("/api/keys/99999999999999999999/disable").status_code == 400
    assert alice.get("/api/usage?offset=99999999999999999999").status_code == 400
