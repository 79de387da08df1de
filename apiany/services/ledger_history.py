"""A user's credit ledger as they read it: their account's entries with the
transaction's kind, reference and the expiry of the lot it created. Every
query is filtered by the owner's user id; nothing here writes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_
from sqlmodel import Session, SQLModel, func, select

from apiany.models import CreditLot, LedgerAccount, LedgerEntry, LedgerTransaction

KINDS = ("grant", "purchase", "consumption", "refund", "expiration", "adjustment", "clawback", "reversal")
MAX_PAGE = 1000


class LedgerFilters(SQLModel):
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class LedgerRow(SQLModel):
    transaction_id: int
    created_at: datetime
    kind: str
    amount: int
    balance_after: int
    reference_type: str
    reference_id: str
    memo: str
    lot_expires_at: datetime | None = None


def _scoped(query, user_id: int, f: LedgerFilters):
    query = (query.join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
             .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
             .where(LedgerAccount.user_id == user_id))
    if f.kind:
        query = query.where(LedgerTransaction.kind == f.kind)
    if f.since:
        query = query.where(LedgerTransaction.created_at >= f.since)
    if f.until:
        query = query.where(LedgerTransaction.created_at < f.until)
    return query


def list_ledger(session: Session, *, user_id: int, filters: LedgerFilters | None = None,
                limit: int = 50, offset: int = 0) -> tuple[list[LedgerRow], int]:
    """Newest first, with the total count of matching rows."""
    f = filters or LedgerFilters()
    query = _scoped(select(LedgerTransaction, LedgerEntry, CreditLot.expires_at), user_id, f).outerjoin(
        CreditLot, and_(CreditLot.transaction_id == LedgerTransaction.id,
                        CreditLot.account_id == LedgerEntry.account_id))
    rows = session.exec(query.order_by(LedgerEntry.id.desc())
                        .offset(max(offset, 0)).limit(min(max(limit, 1), MAX_PAGE))).all()
    total = session.exec(_scoped(select(func.count(LedgerEntry.id)).select_from(LedgerTransaction),
                                 user_id, f)).one()
    return [LedgerRow(transaction_id=tx.id, created_at=tx.created_at, kind=tx.kind, amount=entry.amount,
                      balance_after=entry.balance_after, reference_type=tx.reference_type,
                      reference_id=tx.reference_id, memo=tx.memo, lot_expires_at=expires)
            for tx, entry, expires in rows], total


def totals_by_kind(session: Session, *, user_id: int, filters: LedgerFilters | None = None) -> dict[str, int]:
    """Net units per transaction kind for the user's account (signed)."""
    query = _scoped(select(LedgerTransaction.kind, func.sum(LedgerEntry.amount)).select_from(LedgerTransaction),
                    user_id, filters or LedgerFilters()).group_by(LedgerTransaction.kind)
    return {kind: int(total or 0) for kind, total in session.exec(query).all()}
