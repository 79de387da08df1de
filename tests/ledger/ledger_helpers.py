"""Row factories for the ledger tests (the FK targets of ledger rows).
A uniquely named module: importable from the test modules of this folder
without clashing with other folders' helpers."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session

from apiany.models.keys import ApiKey
from apiany.models.users import User

# For tests of argument checks (no database difference to cover): SQLite only.
sqlite_only = pytest.mark.parametrize("any_db_url", ["sqlite"], indirect=True)


def add_user(session: Session) -> int:
    user = User(email=f"{uuid.uuid4().hex[:12]}@example.com", password_hash="x")
    session.add(user)
    session.flush()
    return user.id


def add_key(session: Session, user_id: int, *, budget: int | None = None,
            period: str = "none") -> ApiKey:
    digest = uuid.uuid4().hex
    key = ApiKey(user_id=user_id, name="k", key_hash=digest, prefix="sk-test", last4="abcd",
                 budget=budget, budget_period=period)
    session.add(key)
    session.flush()
    return key
