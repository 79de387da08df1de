"""`verify`: prove the ledger's invariants from the database. Returns one
readable sentence per problem; an empty list means everything holds."""

from __future__ import annotations

from sqlalchemy import and_
from sqlmodel import Session, func, select

from apiany.models.keys import ApiKey
from apiany.models.ledger import (
    CreditLot,
    Hold,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    LotMovement,
)


def _account_balances(session: Session) -> list[str]:
    total = func.coalesce(func.sum(LedgerEntry.amount), 0)
    rows = session.exec(
        select(LedgerAccount.code, LedgerAccount.balance, total)
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id, isouter=True)
        .where(LedgerAccount.is_system.is_(False))  # no cached balance (accounts.py)
        .group_by(LedgerAccount.id, LedgerAccount.code, LedgerAccount.balance)
        .having(LedgerAccount.balance != total)).all()
    return [f"Account {code} has a cached balance of {balance} units but its entries sum to "
            f"{entries} units." for code, balance, entries in rows]


def _transactions_balance(session: Session) -> list[str]:
    total = func.coalesce(func.sum(LedgerEntry.amount), 0)
    count = func.count(LedgerEntry.id)
    rows = session.exec(
        select(LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.idempotency_key,
               total, count)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id, isouter=True)
        .group_by(LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.idempotency_key)
        .having((total != 0) | (count < 2))).all()
    return [f"Transaction #{tx_id} ({kind}, key {key!r}) has {n} entries summing to {s} units; "
            "it must have at least two entries summing to zero."
            for tx_id, kind, key, s, n in rows]


def _running_balances(session: Session) -> list[str]:
    running = func.sum(LedgerEntry.amount).over(partition_by=LedgerEntry.account_id,
                                                order_by=LedgerEntry.id)
    sub = select(LedgerEntry.id, LedgerEntry.account_id, LedgerEntry.transaction_id,
                 LedgerEntry.balance_after, running.label("running")).subquery()
    rows = session.exec(
        select(LedgerAccount.code, sub.c.id, sub.c.transaction_id, sub.c.balance_after,
               sub.c.running)
        .join(LedgerAccount, LedgerAccount.id == sub.c.account_id)
        .where(sub.c.balance_after != sub.c.running, LedgerAccount.is_system.is_(False))
        .order_by(sub.c.account_id, sub.c.id)).all()
    first: dict[str, tuple] = {}
    counts: dict[str, int] = {}
    for code, entry_id, tx_id, after, run in rows:
        first.setdefault(code, (entry_id, tx_id, after, run))
        counts[code] = counts.get(code, 0) + 1
    return [f"Account {code}: entry #{entry_id} (transaction #{tx_id}) records balance_after "
            f"{after} units but the running sum of entries there is {run} units "
            f"(entries of this account that disagree: {counts[code]})."
            for code, (entry_id, tx_id, after, run) in first.items()]


def _lots_cover_balances(session: Session) -> list[str]:
    remaining = func.coalesce(func.sum(CreditLot.remaining), 0)
    rows = session.exec(
        select(LedgerAccount.code, LedgerAccount.balance, remaining)
        .join(CreditLot, CreditLot.account_id == LedgerAccount.id, isouter=True)
        .where(LedgerAccount.is_system.is_(False))
        .group_by(LedgerAccount.id, LedgerAccount.code, LedgerAccount.balance)).all()
    return [f"Account {code} has a balance of {balance} units but its lots hold {lots} units "
            f"(expected {max(balance, 0)})."
            for code, balance, lots in rows if lots != max(balance, 0)]


def _lots_sane(session: Session) -> list[str]:
    moved = (select(LotMovement.lot_id, func.sum(LotMovement.amount).label("moved"))
             .group_by(LotMovement.lot_id).subquery())
    rows = session.exec(
        select(CreditLot.id, LedgerAccount.code, CreditLot.amount, CreditLot.remaining,
               func.coalesce(moved.c.moved, 0))
        .join(LedgerAccount, LedgerAccount.id == CreditLot.account_id)
        .join(moved, moved.c.lot_id == CreditLot.id, isouter=True)
        .order_by(CreditLot.id)).all()
    problems = []
    for lot_id, code, amount, remaining, delta in rows:
        if remaining < 0 or remaining > amount:
            problems.append(f"Lot #{lot_id} of {code} has {remaining} units remaining, outside "
                            f"0..{amount}.")
        if remaining != amount + delta:
            problems.append(f"Lot #{lot_id} of {code} has {remaining} units remaining but its "
                            f"amount {amount} plus its movements ({delta}) gives {amount + delta}.")
    return problems


def _holds_match(session: Session) -> list[str]:
    active = and_(Hold.account_id == LedgerAccount.id, Hold.status == "active")
    total = func.coalesce(func.sum(Hold.amount), 0)
    rows = session.exec(
        select(LedgerAccount.code, LedgerAccount.held, total)
        .join(Hold, active, isouter=True)
        .group_by(LedgerAccount.id, LedgerAccount.code, LedgerAccount.held)
        .having(LedgerAccount.held != total)).all()
    problems = [f"Account {code} caches {held} units held but its active holds add up to "
                f"{holds} units." for code, held, holds in rows]
    on_key = and_(Hold.api_key_id == ApiKey.id, Hold.status == "active")
    rows = session.exec(
        select(ApiKey.id, ApiKey.name, ApiKey.budget_held, total)
        .join(Hold, on_key, isouter=True)
        .group_by(ApiKey.id, ApiKey.name, ApiKey.budget_held)
        .having(ApiKey.budget_held != total)).all()
    problems += [f"API key #{key_id} ({name!r}) caches {held} units of budget held but its "
                 f"active holds add up to {holds} units." for key_id, name, held, holds in rows]
    return problems


CHECKS = (_account_balances, _transactions_balance, _running_balances, _lots_cover_balances,
          _lots_sane, _holds_match)


def verify(session: Session) -> list[str]:
    """Every invariant of the ledger, checked against the stored rows: a
    user account's cached balance == sum of its entries (system accounts
    cache none: their balance is the sum of their entries by definition); each transaction's entries sum to zero;
    each user entry's balance_after == running sum of its account (by id); a user
    account's lots hold max(balance, 0); lots stay within 0..amount and match
    their movements; cached held / budget_held == sum of active holds."""
    session.flush()
    problems: list[str] = []
    for check in CHECKS:
        problems.extend(check(session))
    return problems
