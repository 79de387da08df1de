"""Ledger accounts: one per user ("user:{id}") plus the system sources and
sinks. Locking rule (PostgreSQL): within one operation, the user account is
locked first, then the API key row; batch jobs take accounts in id order.
Every change to a user account's balance, lots and holds happens while its
row is locked.

System accounts are never locked or updated: every request's consumption
moves credits to "system:consumption", and a cached balance there would be
one row that all settles of all users wait on. Their balance is the sum of
their entries (`system_account` computes it); their entries record
balance_after 0 ("not tracked"); `verify` proves every transaction sums to
zero, which is what keeps them right."""

from __future__ import annotations

from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, func, select

from apiany.core.db import is_postgres
from apiany.core.errors import LedgerError
from apiany.core.money import UNITS_PER_CREDIT
from apiany.core.settings import get_settings
from apiany.ledger.common import SYSTEM_CODES, check_choice, check_id, insert_once
from apiany.models.keys import ApiKey
from apiany.models.ledger import LedgerAccount, LedgerEntry


def _select_account(session: Session, code: str, lock: bool) -> LedgerAccount | None:
    stmt = select(LedgerAccount).where(LedgerAccount.code == code)
    if lock and is_postgres(session):
        stmt = stmt.with_for_update()
    # Re-read the row even if this session already holds the object: the
    # values must be the ones seen under the lock, not a stale copy.
    stmt = stmt.execution_options(populate_existing=True)
    return session.exec(stmt).first()


def _get_or_create(session: Session, code: str, lock: bool, **fields) -> LedgerAccount:
    account = _select_account(session, code, lock)
    if account is None:
        account, _ = insert_once(session, LedgerAccount(code=code, **fields),
                                 lambda: _select_account(session, code, lock),
                                 f"ledger account {code}")
    return account


def user_account(session: Session, user_id: int, *, lock: bool = False) -> LedgerAccount:
    """The user's account, created on first use. lock=True takes the row lock
    (SELECT ... FOR UPDATE on PostgreSQL; SQLite's writer lock is already
    held by BEGIN IMMEDIATE)."""
    check_id(user_id, "user_id")
    limit = get_settings().clawback_limit_credits * UNITS_PER_CREDIT
    return _get_or_create(session, f"user:{user_id}", lock, user_id=user_id,
                          is_system=False, overdraft_limit=limit)


def system_row(session: Session, code: str) -> LedgerAccount:
    """The system account's row, created on first use; never locked, and its
    stored `balance` is not maintained (see the module's docstring)."""
    return _get_or_create(session, code, False, is_system=True)


def system_account(session: Session, code: str, *, lock: bool = False) -> LedgerAccount:
    """The system account with `balance` = the sum of its entries (computed,
    not cached; `lock` is accepted for compatibility: system accounts are
    never locked)."""
    check_choice(code, "code", SYSTEM_CODES)
    session.flush()
    account = system_row(session, code)
    total = session.exec(select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                         .where(LedgerEntry.account_id == account.id)).one()
    set_committed_value(account, "balance", int(total))
    return account


def _lock_row(session: Session, model, row_id: int):
    stmt = select(model).where(model.id == row_id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return session.exec(stmt.execution_options(populate_existing=True)).first()


def lock_account(session: Session, account_id: int) -> LedgerAccount:
    """Lock an account by id (user accounts of holds, lots and transactions)."""
    account = _lock_row(session, LedgerAccount, account_id)
    if account is None:
        raise LedgerError(f"ledger account #{account_id} does not exist")
    return account


def lock_api_key(session: Session, api_key_id: int) -> ApiKey:
    key = _lock_row(session, ApiKey, api_key_id)
    if key is None:
        raise LedgerError(f"API key #{api_key_id} does not exist", param="api_key_id")
    return key
