"""Read-only views of a user's credits (no locks, no writes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case
from sqlmodel import Session, func, select

from apiany.ledger.common import check_id, now_or
from apiany.models.ledger import CreditLot, LedgerAccount

EXPIRING_SOON = timedelta(days=7)


@dataclass(frozen=True)
class BalanceView:
    balance: int  # units; negative only after a clawback
    held: int  # reserved by active holds
    available: int  # balance - held
    free: int  # remaining of lots that cost nothing (grants, adjustments)
    purchased: int  # remaining of paid lots
    expiring_soon: int  # remaining of lots expiring within 7 days (or already due)
    next_expiry: datetime | None


def balance_of(session: Session, user_id: int, *, now: datetime | None = None) -> BalanceView:
    check_id(user_id, "user_id")
    now = now_or(now)
    account = session.exec(select(LedgerAccount).where(LedgerAccount.code == f"user:{user_id}")
                           .execution_options(populate_existing=True)).first()
    if account is None:
        return BalanceView(0, 0, 0, 0, 0, 0, None)

    def remaining_where(condition):
        return func.coalesce(func.sum(case((condition, CreditLot.remaining), else_=0)), 0)

    free, purchased, soon, next_expiry = session.exec(
        select(remaining_where(CreditLot.price_minor == 0),
               remaining_where(CreditLot.price_minor > 0),
               remaining_where(CreditLot.expires_at <= now + EXPIRING_SOON),
               func.min(CreditLot.expires_at))
        .where(CreditLot.account_id == account.id, CreditLot.remaining > 0)).one()
    return BalanceView(balance=account.balance, held=account.held,
                       available=account.balance - account.held, free=int(free),
                       purchased=int(purchased), expiring_soon=int(soon),
                       next_expiry=next_expiry)
