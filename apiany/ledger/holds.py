"""Two-phase spending: reserve an estimate before calling upstream, then
settle the actual amount (the rest returns) or release on failure. Holds
expire so a crash cannot lock credits forever.

A hold moves no credits: it raises the account's `held` (and the API key's
`budget_held`), which lowers what other requests may reserve. Status goes
active -> settled | released | expired, once, under the account lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from apiany.core.errors import IdempotencyMismatch, InsufficientCredits, LedgerError
from apiany.core.money import format_credits
from apiany.ledger.accounts import lock_account, lock_api_key, user_account
from apiany.ledger.common import (
    check_amount,
    check_id,
    check_key,
    check_text,
    db_time,
    insert_once,
    month_start,
    now_or,
)
from apiany.ledger.postings import post_debit
from apiany.models.keys import ApiKey
from apiany.models.ledger import Hold, LedgerAccount, LedgerTransaction


def _find_hold(session: Session, idempotency_key: str) -> Hold | None:
    return session.exec(select(Hold).where(Hold.idempotency_key == idempotency_key)
                        .execution_options(populate_existing=True)).first()


def _replay_hold(hold: Hold, account_id: int, amount: int, api_key_id: int | None,
                 reference_type: str, reference_id: str) -> Hold:
    same = (hold.account_id, hold.amount, hold.api_key_id, hold.reference_type,
            hold.reference_id) == (account_id, amount, api_key_id, reference_type, reference_id)
    if not same:
        raise IdempotencyMismatch(f"idempotency key {hold.idempotency_key!r} was already used "
                                  f"for a different hold (#{hold.id})", param="idempotency_key")
    return hold


def roll_budget_period(key: ApiKey, now: datetime) -> None:
    """Monthly budgets start over at the first of each UTC month."""
    if key.budget_period == "monthly":
        start = month_start(now)
        if key.budget_period_start is None or db_time(key.budget_period_start) < start:
            key.budget_used = 0
            key.budget_period_start = start


def reserve(session: Session, *, user_id: int, amount: int, idempotency_key: str,
            api_key_id: int | None = None, reference_type: str = "", reference_id: str = "",
            ttl_seconds: int = 600, now: datetime | None = None) -> Hold:
    """Reserve `amount` units when both the available balance and the API
    key's remaining budget cover it; InsufficientCredits (402) says which
    did not. A replay of the key returns the same hold."""
    check_amount(amount)
    check_key(idempotency_key)
    check_text(reference_type, "reference_type", 30)
    check_text(reference_id, "reference_id", 100)
    check_amount(ttl_seconds, "ttl_seconds")
    if api_key_id is not None:
        check_id(api_key_id, "api_key_id")
    now = now_or(now)

    account = user_account(session, user_id, lock=True)
    existing = _find_hold(session, idempotency_key)
    if existing is not None:
        return _replay_hold(existing, account.id, amount, api_key_id, reference_type,
                            reference_id)
    key = None
    if api_key_id is not None:
        key = lock_api_key(session, api_key_id)
        if key.user_id != user_id:
            raise LedgerError(f"API key #{api_key_id} does not belong to user {user_id}",
                              param="api_key_id")
    if account.balance < 0:
        raise InsufficientCredits(
            f"Insufficient credits: the balance is negative ({format_credits(account.balance)} "
            "credits); add credits to continue")
    available = account.balance - account.held
    if available < amount:
        raise InsufficientCredits(
            f"Insufficient credits: {format_credits(max(available, 0))} available, "
            f"{format_credits(amount)} needed")
    if key is not None and key.budget is not None:
        roll_budget_period(key, now)
        left = key.budget - key.budget_used - key.budget_held
        if left < amount:
            raise InsufficientCredits(
                f"API key budget exhausted: {format_credits(max(left, 0))} of "
                f"{format_credits(key.budget)} credits left, {format_credits(amount)} needed")
    hold = Hold(account_id=account.id, api_key_id=api_key_id, idempotency_key=idempotency_key,
                amount=amount, reference_type=reference_type, reference_id=reference_id,
                created_at=now, expires_at=now + timedelta(seconds=ttl_seconds))
    hold, created = insert_once(session, hold, lambda: _find_hold(session, idempotency_key),
                                "hold")
    if not created:
        return _replay_hold(hold, account.id, amount, api_key_id, reference_type, reference_id)
    account.held += amount
    account.updated_at = now
    if key is not None:
        key.budget_held += amount
    session.flush()
    return hold


def _lock_hold(session: Session, hold_id: int) -> tuple[Hold, LedgerAccount, ApiKey | None]:
    """Lock the hold's account, then its key, then re-read the hold."""
    check_id(hold_id, "hold_id")
    hold = session.get(Hold, hold_id)
    if hold is None:
        raise LedgerError(f"hold #{hold_id} does not exist")
    account = lock_account(session, hold.account_id)
    key = lock_api_key(session, hold.api_key_id) if hold.api_key_id is not None else None
    session.refresh(hold)
    return hold, account, key


def _finish(hold: Hold, account: LedgerAccount, key: ApiKey | None, status: str,
            now: datetime) -> None:
    hold.status = status
    hold.finalized_at = now
    account.held -= hold.amount
    account.updated_at = now
    if key is not None:
        key.budget_held -= hold.amount


def settle(session: Session, hold_id: int, *, amount: int, memo: str = "",
           now: datetime | None = None, actor: str = "system") -> LedgerTransaction | None:
    """Charge the actual `amount` for an active hold and free the rest.

    More than the hold is charged only as far as the available balance
    covers the excess (never an overdraft); the returned consumption
    transaction is exactly what was charged (None when nothing was).
    Settling a settled hold returns its transaction again; a released or
    expired hold raises LedgerError."""
    check_amount(amount, allow_zero=True)
    check_text(memo, "memo", 500)
    check_text(actor, "actor", 200)
    now = now_or(now)
    hold, account, key = _lock_hold(session, hold_id)
    if hold.status == "settled":
        if hold.settle_transaction_id is None:
            return None
        return session.get(LedgerTransaction, hold.settle_transaction_id)
    if hold.status != "active":
        raise LedgerError(f"hold #{hold.id} is {hold.status}, it cannot be settled")
    _finish(hold, account, key, "settled", now)
    # The hold's own reservation plus what is available beyond all holds.
    charge = min(amount, max(account.balance - account.held, 0))
    hold.settled_amount = charge
    if key is not None:
        roll_budget_period(key, now)
        key.budget_used += charge
    tx = None
    if charge:
        tx = post_debit(session, account, amount=charge, kind="consumption",
                        idempotency_key=f"settle:{hold.idempotency_key}", actor=actor, memo=memo,
                        reference_type=hold.reference_type, reference_id=hold.reference_id)
        hold.settle_transaction_id = tx.id
    session.flush()
    return tx


def release(session: Session, hold_id: int, *, now: datetime | None = None) -> Hold:
    """Free an active hold; a hold already finished is returned unchanged."""
    now = now_or(now)
    hold, account, key = _lock_hold(session, hold_id)
    if hold.status == "active":
        _finish(hold, account, key, "released", now)
        session.flush()
    return hold


def expire_holds(session: Session, *, now: datetime | None = None, limit: int = 500) -> int:
    """Expire active holds past `expires_at`, freeing what they reserved."""
    now = now_or(now)
    check_amount(limit, "limit")
    rows = session.exec(select(Hold.id, Hold.account_id)
                        .where(Hold.status == "active", Hold.expires_at <= now)
                        .order_by(Hold.expires_at, Hold.id).limit(limit)).all()
    count = 0
    # Accounts in id order (one lock order for concurrent runs), then keys.
    for hold_id, _ in sorted(rows, key=lambda row: (row[1], row[0])):
        hold, account, key = _lock_hold(session, hold_id)
        if hold.status == "active" and db_time(hold.expires_at) <= now:
            _finish(hold, account, key, "expired", now)
            count += 1
    session.flush()
    return count
