"""Validation, time and fingerprint helpers shared by the ledger modules."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from apiany.core.db import utcnow
from apiany.core.errors import LedgerError

Row = TypeVar("Row")

# Large enough for any real grant (a billion credits), small enough that sums
# of many amounts stay far inside a signed 64-bit column.
MAX_AMOUNT = 10**15
# Caller keys leave room for the prefixes the ledger derives from them
# ("settle:<hold key>") inside the 200-character column.
MAX_KEY_LENGTH = 190

GRANT_SOURCES = {
    "grant": "system:grants",
    "purchase": "system:purchases",
    "subscription": "system:purchases",
    "adjustment": "system:adjustments",
}
DEBIT_SINKS = {
    "consumption": "system:consumption",
    "adjustment": "system:adjustments",
    "clawback": "system:clawbacks",
}
SYSTEM_CODES = frozenset(
    {"system:grants", "system:purchases", "system:consumption", "system:expirations",
     "system:adjustments", "system:clawbacks"}
)


def check_amount(value: object, name: str = "amount", *, allow_zero: bool = False) -> int:
    """An amount of units: a plain int (never bool/float/str), > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise LedgerError(f"{name} must be an integer number of units, got {value!r}", param=name)
    low = 0 if allow_zero else 1
    if value < low:
        rule = "zero or positive" if allow_zero else "positive"
        raise LedgerError(f"{name} must be {rule}, got {value}", param=name)
    if value > MAX_AMOUNT:
        raise LedgerError(f"{name} {value} is larger than the ledger allows ({MAX_AMOUNT})",
                          param=name)
    return value


def check_id(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise LedgerError(f"{name} must be a positive integer id, got {value!r}", param=name)
    return value


def check_text(value: object, name: str, max_length: int, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise LedgerError(f"{name} must be a string, got {value!r}", param=name)
    if required and not value.strip():
        raise LedgerError(f"{name} must not be empty", param=name)
    if len(value) > max_length:
        raise LedgerError(f"{name} is longer than {max_length} characters", param=name)
    return value


def check_key(value: object) -> str:
    return check_text(value, "idempotency_key", MAX_KEY_LENGTH, required=True)


def check_choice(value: object, name: str, choices) -> str:
    if value not in choices:
        raise LedgerError(f"{name} must be one of {', '.join(sorted(choices))}; got {value!r}",
                          param=name)
    return value  # type: ignore[return-value]


def db_time(value: datetime | None, name: str = "now") -> datetime | None:
    """A datetime in the representation the models store: whatever
    `core.db.utcnow()` returns (aware UTC, as SQLModel >= 0.0.45 requires).
    Aware values are converted to UTC; naive ones are taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise LedgerError(f"{name} must be a datetime, got {value!r}", param=name)
    stored_aware = utcnow().tzinfo is not None
    if value.utcoffset() is not None:
        value = value.astimezone(UTC)
        return value if stored_aware else value.replace(tzinfo=None)
    return value.replace(tzinfo=UTC) if stored_aware else value


def now_or(value: datetime | None) -> datetime:
    return db_time(value) or utcnow()


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def fingerprint(kind: str, accounts: list[str], amount: int, reference_type: str,
                reference_id: str, **extra: object) -> str:
    """sha256 of the canonical JSON of what a transaction does; replays of
    an idempotency key must carry the same content."""
    payload = {"kind": kind, "accounts": accounts, "amount": amount,
               "reference": [reference_type, reference_id], **extra}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def insert_once(session: Session, row: Row, find_existing: Callable[[], Row | None],
                what: str) -> tuple[Row, bool]:
    """INSERT `row` inside a SAVEPOINT: (row, True); when a concurrent writer
    won a unique constraint, the savepoint keeps the caller's transaction
    alive and the existing row is returned: (existing, False)."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        existing = find_existing()
        if existing is None:  # another constraint (a missing user, ...)
            raise LedgerError(f"cannot record {what}: {exc.orig}") from exc
        return existing, False
    return row, True
