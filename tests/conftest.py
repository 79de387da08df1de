"""Shared fixtures: a real database per test.

`db_url` is a fresh SQLite file; `pg_url` a truncated PostgreSQL database
(skipped unless APIANY_TEST_DATABASE_URL is set); `any_db_url` runs a test on
both. Each sets APIANY_DATABASE_URL so code using the default engine sees
the same database.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

import apiany.models  # noqa: F401  (registers every table)
from apiany.core import db as core_db
from apiany.core.settings import reset_settings

PG_URL = os.environ.get("APIANY_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("APIANY_TEST_REDIS_URL")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """Keep tests away from the developer's .env, data/ and services."""
    for name in list(os.environ):
        if name.startswith("APIANY_") and not name.startswith("APIANY_TEST_"):
            monkeypatch.delenv(name, raising=False)
    for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APIANY_DATABASE_URL", f"sqlite:///{tmp_path / 'default.db'}")
    monkeypatch.setenv("APIANY_JOBS", "0")
    reset_settings()
    yield
    core_db.dispose_engines()
    reset_settings()


def _use(monkeypatch, url: str) -> str:
    monkeypatch.setenv("APIANY_DATABASE_URL", url)
    reset_settings()
    return url


@pytest.fixture
def db_url(monkeypatch, tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'test.db'}"
    SQLModel.metadata.create_all(core_db.get_engine(url))
    return _use(monkeypatch, url)


@pytest.fixture(scope="session")
def _pg_database():
    if not PG_URL:
        pytest.skip("APIANY_TEST_DATABASE_URL is not set")
    name = f"apiany_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    yield url
    core_db.dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(monkeypatch, _pg_database) -> str:
    engine = core_db.get_engine(_pg_database)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return _use(monkeypatch, _pg_database)


@pytest.fixture(params=["sqlite", "postgres"])
def any_db_url(request) -> str:
    return request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def session(db_url):
    with Session(core_db.get_engine(db_url), expire_on_commit=False) as s:
        yield s


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip("APIANY_TEST_REDIS_URL is not set")
    return REDIS_URL


def pytest_collection_modifyitems(config, items):
    """End-to-end tests run last: Playwright's sync API keeps an event loop
    running in the main thread for the rest of the session, which would
    break later tests that call asyncio.run()."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
