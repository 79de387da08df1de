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

from sqlmodel import Session, select

from apiany.core.errors import IdempotencyMismatch, LedgerError
from apiany.ledger.accounts import system_row
from apiany.ledger.common import check_text, insert_once
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


def check_labels(*, actor: str, memo: str, reference_type: str, reference_id: str) -> dict:
    """Who, why and what for; returned as the transaction's label fields."""
    return {"actor": check_text(actor, "actor", 200), "memo": check_text(memo, "memo", 500),
            "reference_type": check_text(reference_type, "reference_type", 30),
            "reference_id": check_text(reference_id, "reference_id", 100)}


def claim(session: Session, *, kind: str, idempotency_key: str, fp: str, now: datetime,
          reverses_transaction_id: int | None = None,
          **labels: str) -> tuple[LedgerTransaction, bool]:
    """Insert the transaction row: (row, True), or (original, False) when a
    concurrent writer inserted the key first. Callers look for a replay
    with `replayed` before their checks, so this does not look again."""
    tx = LedgerTransaction(kind=kind, idempotency_key=idempotency_key, fingerprint=fp,
                           created_at=now, reverses_transaction_id=reverses_transaction_id,
                           **labels)
    existing, created = insert_once(session, tx,
                                    lambda: find_transaction(session, idempotency_key),
                                    f"{kind} transaction")
    return (existing if created else check_replay(existing, fp)), created


def transfer(session: Session, user: LedgerAccount, system_code: str, amount: int, *,
             kind: str, idempotency_key: str, fp: str, now: datetime,
             reverses_transaction_id: int | None = None,
             **labels: str) -> tuple[LedgerTransaction, bool]:
    """Move `amount` from the system account to the (locked) user account,
    or back when negative: claim the key, write both entries (the system
    account is not locked: accounts.py). (original, False) when a
    concurrent writer had the key."""
    system = system_row(session, system_code)
    tx, created = claim(session, kind=kind, idempotency_key=idempotency_key, fp=fp, now=now,
                        reverses_transaction_id=reverses_transaction_id, **labels)
    if created:
        write_entries(session, tx, [(user, amount), (system, -amount)], now)
    return tx, created


def write_entries(session: Session, tx: LedgerTransaction,
                  legs: list[tuple[LedgerAccount, int]], now: datetime) -> list[LedgerEntry]:
    """One entry per leg; legs sum to zero. User accounts must be locked (the
    entry ids are allocated under the lock, so per-account id order is the
    order in which balances changed); system accounts keep no cached
    balance and their entries record balance_after 0."""
    if sum(amount for _, amount in legs) != 0:
        raise LedgerError(f"transaction {tx.idempotency_key!r} does not balance")
    if len({account.id for account, _ in legs}) != len(legs):
        raise LedgerError(f"transaction {tx.idempotency_key!r} names an account twice")
    entries = []
    for account, amount in legs:
        if not account.is_system:
            account.balance += amount
            account.updated_at = now
        entry = LedgerEntry(transaction_id=tx.id, account_id=account.id, amount=amount,
                            balance_after=0 if account.is_system else account.balance,
                            created_at=now)
        session.add(entry)
        entries.append(entry)
    session.flush()
    return entries
