"""Alembic migrations build the schema the models describe, on SQLite and
PostgreSQL: after `upgrade head`, autogenerate finds no difference."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import apiany.models  # noqa: F401
from apiany.services.migrations import upgrade_to_head
from tests.conftest import PG_URL


def _assert_no_drift(url: str) -> None:
    upgrade_to_head(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(ctx, SQLModel.metadata)
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert diff == []
    assert set(SQLModel.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_sqlite_migrations_match_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    _assert_no_drift(url)
    upgrade_to_head(url)  # a second run is a no-op


def test_postgres_migrations_match_models():
    if not PG_URL:
        pytest.skip("APIANY_TEST_DATABASE_URL is not set")
    name = f"apiany_m_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _assert_no_drift(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    finally:
        from apiany.core.db import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
