"""Usage queries for users (their own rows only) and operators (all)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, SQLModel, func, select

from apiany.core.errors import NotFound
from apiany.models import ChannelAttempt, LedgerEntry, LedgerTransaction, RequestBody, UsageRecord
from apiany.models.ledger import LedgerAccount


class UsageFilters(SQLModel):
    since: datetime | None = None
    until: datetime | None = None
    api_key_id: int | None = None
    model: str | None = None
    status: str | None = None
    request_type: str | None = None


def _filtered(query, f: UsageFilters):
    if f.since:
        query = query.where(UsageRecord.created_at >= f.since)
    if f.until:
        query = query.where(UsageRecord.created_at < f.until)
    if f.api_key_id:
        query = query.where(UsageRecord.api_key_id == f.api_key_id)
    if f.model:
        query = query.where(UsageRecord.public_model == f.model)
    if f.status:
        query = query.where(UsageRecord.status == f.status)
    if f.request_type:
        query = query.where(UsageRecord.request_type == f.request_type)
    return query


def list_usage(session: Session, *, user_id: int | None, filters: UsageFilters | None = None,
               limit: int = 50, offset: int = 0) -> tuple[list[UsageRecord], int]:
    """Newest first. `user_id=None` is the operators' view of everyone."""
    f = filters or UsageFilters()
    query = select(UsageRecord)
    count = select(func.count()).select_from(UsageRecord)
    if user_id is not None:
        query = query.where(UsageRecord.user_id == user_id)
        count = count.where(UsageRecord.user_id == user_id)
    query, count = _filtered(query, f), _filtered(count, f)
    rows = session.exec(query.order_by(UsageRecord.created_at.desc(), UsageRecord.id.desc())
                        .offset(offset).limit(min(max(limit, 1), 1000))).all()
    return list(rows), session.exec(count).one()


def request_story(session: Session, *, user_id: int | None, request_id: str) -> dict:
    """One request with its attempts, ledger movements and stored bodies."""
    query = select(UsageRecord).where(UsageRecord.request_id == request_id)
    if user_id is not None:
        query = query.where(UsageRecord.user_id == user_id)
    record = session.exec(query).first()
    if record is None:
        raise NotFound(f"no request with id {request_id}", param="request_id")
    attempts = session.exec(select(ChannelAttempt).where(ChannelAttempt.request_id == request_id)
                            .order_by(ChannelAttempt.attempt_no)).all()
    refs = [request_id] + ([record.task_id] if record.task_id else [])
    body = session.get(RequestBody, request_id)
    return {
        "usage": record.model_dump(),
        "attempts": [a.model_dump() for a in attempts],
        "ledger": ledger_movements(session, user_id=record.user_id, reference_ids=refs),
        "bodies": None if body is None else {"request": body.request_body, "response": body.response_body},
    }


def ledger_movements(session: Session, *, user_id: int | None, reference_ids: list[str]) -> list[dict]:
    """The user's side of every ledger transaction referencing these ids."""
    movements = session.exec(
        select(LedgerTransaction, LedgerEntry)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerTransaction.reference_id.in_(reference_ids), LedgerAccount.user_id == user_id)
        .order_by(LedgerTransaction.id)).all()
    return [{"transaction_id": tx.id, "kind": tx.kind, "amount": entry.amount,
             "balance_after": entry.balance_after, "created_at": tx.created_at, "memo": tx.memo}
            for tx, entry in movements]
