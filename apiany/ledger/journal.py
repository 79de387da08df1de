"""The append-only journal: claim an idempotency key for a transaction and
write its balanced entries. Everything that moves credits goes through here.

Idempotency: a key names one transaction forever. Replaying it with the same
content (fingerprint) returns the original row and writes nothing; other
content raises IdempotencyMismatch. The INSERT runs inside a SAVEPOINT so a
concurrent writer that wins the unique constraint does not abort the
caller's transaction: we roll back to the savepoint and return its row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from apiany.core.errors import IdempotencyMismatch, LedgerError
from apiany.ledger.common import check_text
from apiany.models.ledger import LedgerAccount, LedgerEntry, LedgerTransaction


def find_transaction(session: Session, idempotency_key: str) -> LedgerTransaction | None:
    stmt = select(LedgerTransaction).where(LedgerTransaction.idempotency_key == idempotency_key)
    return session.exec(stmt).first()


def check_replay(existing: LedgerTransaction, fp: str) -> LedgerTransaction:
    if existing.fingerprint != fp:
        raise IdempotencyMismatch(
            f"idempotency key {existing.idempotency_key!r} was already used for a different "
            f"{existing.kind} transaction (#{existing.id})", param="idempotency_key")
    return existing


def replayed(session: Session, idempotency_key: str, fp: str) -> LedgerTransaction | None:
    """The original transaction when this is a replay, else None."""
    existing = find_transaction(session, idempotency_key)
    return check_replay(existing, fp) if existing is not None else None


def check_labels(*, actor: str, memo: str, reference_type: str, reference_id: str) -> None:
    check_text(actor, "actor", 200)
    check_text(memo, "memo", 500)
    check_text(reference_type, "reference_type", 30)
    check_text(reference_id, "reference_id", 100)


def claim(session: Session, *, kind: str, idempotency_key: str, fp: str, actor: str,
          memo: str, reference_type: str, reference_id: str, now: datetime,
          reverses_transaction_id: int | None = None) -> tuple[LedgerTransaction, bool]:
    """Insert the transaction row; (row, True) when new, (original, False)
    when a concurrent writer inserted the key first. Callers look for a
    replay with `replayed` before their checks, so this does not again."""
    tx = LedgerTransaction(kind=kind, idempotency_key=idempotency_key, fingerprint=fp,
                           reference_type=reference_type, reference_id=reference_id,
                           actor=actor, memo=memo, created_at=now,
                           reverses_transaction_id=reverses_transaction_id)
    try:
        with session.begin_nested():
            session.add(tx)
    except IntegrityError as exc:
        existing = find_transaction(session, idempotency_key)
        if existing is None:
            raise LedgerError(f"cannot record {kind} transaction: {exc.orig}") from exc
        return check_replay(existing, fp), False
    return tx, True


def write_entries(session: Session, tx: LedgerTransaction,
                  legs: list[tuple[LedgerAccount, int]], now: datetime) -> list[LedgerEntry]:
    """One entry per leg; legs sum to zero. The accounts must be locked (the
    entry ids are allocated under the lock, so per-account id order is the
    order in which balances changed)."""
    if sum(amount for _, amount in legs) != 0:
        raise LedgerError(f"transaction {tx.idempotency_key!r} does not balance")
    if len({account.id for account, _ in legs}) != len(legs):
        raise LedgerError(f"transaction {tx.idempotency_key!r} names an account twice")
    entries = []
    for account, amount in legs:
        account.balance += amount
        account.updated_at = now
        entry = LedgerEntry(transaction_id=tx.id, account_id=account.id, amount=amount,
                            balance_after=account.balance, created_at=now)
        session.add(entry)
        entries.append(entry)
    session.flush()
    return entries
