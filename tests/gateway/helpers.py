from __future__ import annotations

from sqlmodel import Session, select

from tests.factories import add_channel

from apiany.core.db import get_engine, session_scope
from apiany.ledger import balance_of, verify
from apiany.models import Channel, ChannelAttempt, LedgerTransaction, UsageRecord


def balance(user) -> int:
    with Session(get_engine()) as s:
        return balance_of(s, user.id).balance


def usage_rows(user) -> list[UsageRecord]:
    with Session(get_engine()) as s:
        return list(s.exec(select(UsageRecord).where(UsageRecord.user_id == user.id)
                           .order_by(UsageRecord.id)))


def usage_row(request_id: str) -> UsageRecord:
    with Session(get_engine()) as s:
        return s.exec(select(UsageRecord).where(UsageRecord.request_id == request_id)).one()


def attempts(request_id: str) -> list[ChannelAttempt]:
    with Session(get_engine()) as s:
        return list(s.exec(select(ChannelAttempt).where(ChannelAttempt.request_id == request_id)
                           .order_by(ChannelAttempt.attempt_no)))


def consumption(request_id: str) -> list[LedgerTransaction]:
    with Session(get_engine()) as s:
        return list(s.exec(select(LedgerTransaction).where(LedgerTransaction.reference_id == request_id,
                                                           LedgerTransaction.kind == "consumption")))


def ledger_ok() -> list[str]:
    with Session(get_engine()) as s:
        return verify(s)


def set_channels(*specs):
    """Replace the catalog's channels: (name, priority, directive-or-None, extra)."""
    with session_scope() as s:
        for ch in s.exec(select(Channel)):
            s.delete(ch)
        s.flush()
        for name, priority, directive, extra in specs:
            headers = {"x-sandbox": f"{directive},tag={name}" if directive else f"tag={name}"}
            add_channel(s, name, priority=priority, extra_headers=headers, **extra)


