"""The one clock every job reads "now" from. Tests move time with
`clock.set(...)` / `clock.frozen(...)`; production reads `utcnow()`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from apiany.core.db import utcnow

_fixed: datetime | None = None


def as_utc(value: datetime) -> datetime:
    """Aware UTC (SQLite gives naive UTC back; PostgreSQL aware)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    return _fixed if _fixed is not None else utcnow()


def set(value: datetime | None) -> None:  # noqa: A001 - reads well as clock.set(...)
    """Fix the clock at `value` (None: back to real time)."""
    global _fixed
    _fixed = None if value is None else as_utc(value)


@contextmanager
def frozen(value: datetime) -> Iterator[datetime]:
    previous = _fixed
    set(value)
    try:
        yield as_utc(value)
    finally:
        set(previous)
