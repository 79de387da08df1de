"""Engine and sessions. One engine per URL per process.

SQLite: WAL, a busy timeout and `BEGIN IMMEDIATE` on every transaction, so
concurrent writers (app workers, scheduler, CLI) queue instead of failing
with "database is locked" when a read transaction upgrades to a write.
PostgreSQL: pooled connections; row locks are taken with FOR UPDATE by the
ledger.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from apiany.core.settings import get_settings

_engines: dict[tuple[str, bool], Engine] = {}
_lock = threading.Lock()


def utcnow() -> datetime:
    """Aware UTC: SQLModel stores datetimes as UTC and returns them aware,
    so every time in the code is aware UTC too (no naive datetimes)."""
    return datetime.now(UTC)


def _sqlite_engine(url: str, readonly: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=20,
        max_overflow=20,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - trivial
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - trivial
        # Writers take the lock up front; readers (WAL) never wait for it.
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def get_engine(url: str | None = None, *, readonly: bool = False) -> Engine:
    """The engine for `url` (default: settings). `readonly=True` gives, on
    SQLite, connections whose transactions do not take the write lock: use
    it only for code that never writes (caches, listings)."""
    url = url or get_settings().database_url
    sqlite = url.startswith("sqlite")
    key = (url, readonly and sqlite)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            if sqlite:
                engine = _sqlite_engine(url, readonly=readonly)
            else:
                engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
            _engines[key] = engine
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@contextmanager
def session_scope(url: str | None = None, *, readonly: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = Session(get_engine(url, readonly=readonly), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
