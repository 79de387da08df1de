from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlmodel import select

from apiany.models import AuditLog
from apiany.services import audit


def test_record_writes_one_row_without_secrets(session):
    key = "sk-" + "A" * 48
    audit.record(session, actor="admin:1", action="key.create", target_type="api_key", target_id=7,
                 client_ip="10.0.0.1", details={
                     "name": "ci", "key_id": 7, "key_prefix": "sk-AAAA", "password": "hunter22",
                     "new_password": "x", "api_key": key, "token": "t", "Token_Hash": "h",
                     "client_secret": "s", "nested": {"secret": 1, "ok": [1, {"password": 2, "n": 3}]},
                     "note": f"created {key} for ci", "when": datetime(2026, 1, 2, 3, 4, 5),
                     "amount": Decimal("1.50")})
    session.commit()
    row = session.exec(select(AuditLog)).one()
    assert (row.actor, row.action, row.target_type, row.target_id, row.client_ip, row.actor_user_id) == \
        ("admin:1", "key.create", "api_key", "7", "10.0.0.1", None)
    assert row.details == {"name": "ci", "key_id": 7, "key_prefix": "sk-AAAA",
                           "nested": {"ok": [1, {"n": 3}]}, "note": "created [redacted] for ci",
                           "when": "2026-01-02T03:04:05", "amount": "1.50"}


def test_secret_names():
    for name in ("password", "PASSWORD", "api_key", "api-key", "apikey", "key", "token",
                 "session_token", "token_hash", "secret", "webhook_secret", "Authorization"):
        assert audit.is_secret_name(name), name
    for name in ("key_id", "key_prefix", "keys_created", "name", "tokens_used", "monkey"):
        assert not audit.is_secret_name(name), name


def test_details_default_to_empty(session):
    row = audit.record(session, actor="system", action="noop")
    session.flush()
    assert (row.details, row.target_id, row.client_ip) == ({}, "", "")
