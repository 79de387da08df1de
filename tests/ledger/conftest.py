"""Fixtures for the ledger tests: a session on SQLite and (when configured)
PostgreSQL, and factories for users and API keys (the FK targets)."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session

from apiany.core import db as core_db
from apiany.models.keys import ApiKey
from apiany.models.users import User


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


@pytest.fixture
def s(any_db_url):
    """A session on each database; the test commits when it wants to."""
    with Session(core_db.get_engine(any_db_url), expire_on_commit=False) as session:
        yield session


@pytest.fixture
def user(s) -> int:
    uid = add_user(s)
    s.commit()
    return uid


@pytest.fixture
def make_user():
    return add_user


@pytest.fixture
def make_key():
    return add_key
