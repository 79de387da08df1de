from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from apiany.core.db import get_engine, utcnow
from apiany.models import LedgerTransaction, MediaTask, TaskCallbackAttempt


def task(task_id: str) -> MediaTask:
    with Session(get_engine()) as s:
        return s.exec(select(MediaTask).where(MediaTask.task_id == task_id)).one()


def task_transactions(task_id: str) -> list[tuple[str, int | None]]:
    """(kind, reverses) of every ledger transaction referencing the task."""
    with Session(get_engine()) as s:
        rows = s.exec(select(LedgerTransaction).where(LedgerTransaction.reference_id == task_id)
                      .order_by(LedgerTransaction.id)).all()
        return [(tx.kind, tx.reverses_transaction_id) for tx in rows]


def callback_attempts(task_id: str) -> list[TaskCallbackAttempt]:
    with Session(get_engine()) as s:
        return list(s.exec(select(TaskCallbackAttempt).where(TaskCallbackAttempt.task_id == task_id)
                           .order_by(TaskCallbackAttempt.attempt_no)))


def later(seconds: float):
    return utcnow() + timedelta(seconds=seconds)
