"""Plain SQL on the hot path: a transaction's DB-API connection, wrapped so
the same statements run on SQLite and PostgreSQL, with an ORM Session on the
same connection and transaction for whatever is not the common case.

Why: measured on the gateway's units of work, SQLAlchemy's Session,
savepoints and statement compilation cost about three times the SQL they
run. The ledger's fast path and the gateway's usage rows use `Tx.run`;
everything else keeps the ORM.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy.engine import Connection
from sqlmodel import Session

from apiany.core.events import PENDING_CHANGES, fire_changes


class SQL:
    """One statement, in sqlite3's (:name) and psycopg's (%(name)s) styles."""

    __slots__ = ("lite", "pg")

    def __init__(self, text: str):
        self.lite = " ".join(text.split())
        self.pg = re.sub(r"(?<!:):(\w+)", r"%(\1)s", self.lite)


class Tx:
    """The statements of one unit of work, inside a transaction someone else
    begins and commits (a unit_of_work, a group commit, a caller's Session).
    Config changes announced through `session` are collected in `changes`
    and fired by the owner after its commit."""

    __slots__ = ("conn", "raw", "pg", "cur", "_session", "_own_session", "changes")

    def __init__(self, conn: Connection, session: Session | None = None):
        self.conn = conn
        self.raw = conn.connection.dbapi_connection
        self.pg = conn.dialect.name == "postgresql"
        self.cur = None  # one cursor for the whole transaction
        self._session = session
        self._own_session = session is None
        self.changes: set = set()

    @classmethod
    def of(cls, session: Session) -> Tx:
        """The transaction a caller's Session is in (its changes stay its own)."""
        return cls(session.connection(), session)

    def run(self, sql: SQL, params: dict | list[dict]):
        """Execute and return the cursor; read what the statement returns
        before the next one. SQLite: one cursor for the transaction;
        psycopg: a cursor per statement (measured: reusing one costs more)."""
        cur = self.cur
        if cur is None or self.pg:
            cur = self.raw.cursor()
            if not self.pg:
                self.cur = cur
        if isinstance(params, list) and len(params) != 1:
            cur.executemany(sql.pg if self.pg else sql.lite, params)
        elif isinstance(params, list):
            cur.execute(sql.pg if self.pg else sql.lite, params[0])
        else:
            cur.execute(sql.pg if self.pg else sql.lite, params)
        return cur

    def do(self, sql: SQL, params: dict | list[dict]) -> int:
        """Execute; the number of rows changed."""
        cur = self.run(sql, params)
        count = cur.rowcount  # before close(): psycopg forgets it
        self._done(cur)
        return count

    def one(self, sql: SQL, params: dict):
        cur = self.run(sql, params)
        row = cur.fetchone()
        self._done(cur)
        return row

    def all(self, sql: SQL, params: dict) -> list:
        cur = self.run(sql, params)
        rows = cur.fetchall()
        self._done(cur)
        return rows

    def _done(self, cur) -> None:
        if cur is not self.cur:
            cur.close()

    def ts(self, value: datetime):
        """A timestamp as the models store it: aware for PostgreSQL,
        SQLAlchemy's UTC text form for SQLite."""
        if self.pg:
            return value
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(" ", "microseconds")

    @property
    def session(self) -> Session:
        """An ORM Session in this transaction (made on first use)."""
        if self._session is None:
            # In a savepoint of its own: its rollback must not undo the
            # other units of a group commit.
            self._session = Session(bind=self.conn, join_transaction_mode="create_savepoint",
                                    expire_on_commit=False)
        return self._session

    def end_session(self, ok: bool) -> None:
        """Keep (ok) or undo the work of the Session this unit made; its
        config changes wait for the owner to fire them after the real
        commit (the Session's own commit only releases its savepoint)."""
        session = self._session
        if session is None or not self._own_session:
            return
        self._session = None
        try:
            changes = session.info.pop(PENDING_CHANGES, set())
            if ok:
                session.commit()
                self.changes |= changes
        finally:
            session.close()


def as_tx(session_or_tx: Session | Tx) -> Tx:
    return session_or_tx if isinstance(session_or_tx, Tx) else Tx.of(session_or_tx)


class Savepoint:
    """Plain SAVEPOINT / RELEASE / ROLLBACK TO on the DB-API connection (the
    ORM's begin_nested costs ~100 us per unit)."""

    __slots__ = ("tx", "name")

    def __init__(self, tx: Tx, name: str = "apiany_unit"):
        self.tx, self.name = tx, name

    def __enter__(self) -> Tx:
        cur = self.tx.raw.cursor()
        cur.execute(f"SAVEPOINT {self.name}")
        cur.close()
        return self.tx

    def __exit__(self, exc_type, exc, tb) -> None:
        self.tx.end_session(ok=exc_type is None)
        cur = self.tx.raw.cursor()
        try:
            if exc_type is not None:
                cur.execute(f"ROLLBACK TO SAVEPOINT {self.name}")
            cur.execute(f"RELEASE SAVEPOINT {self.name}")
        finally:
            cur.close()


@contextmanager
def transaction(engine) -> Iterator[Tx]:
    """One transaction of plain SQL: commit on success, roll back on error;
    config changes fire after the commit."""
    with engine.connect() as conn:
        tx = Tx(conn)
        with conn.begin():
            try:
                yield tx
            except BaseException:
                tx.end_session(ok=False)
                raise
            tx.end_session(ok=True)
        fire_changes(tx.changes)
