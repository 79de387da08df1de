"""Fixtures for the ledger tests: a session on SQLite and (when configured)
PostgreSQL, a user, and factories for users and API keys."""

from __future__ import annotations

import pytest
from ledger_helpers import add_key, add_user
from sqlmodel import Session

from apiany.core import db as core_db


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
