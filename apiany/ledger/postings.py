"""Grants, debits and refunds: the transactions that move credits between a
user account and a system account. Each function locks the user account,
answers replays of its idempotency key before any check, then validates,
then writes (transaction, entries, cached balances, lots) and flushes. The
caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from apiany.core.errors import InsufficientCredits, LedgerError
from apiany.core.money import format_credits
from apiany.ledger.accounts import lock_account, user_account
from apiany.ledger.common import (
    DEBIT_SINKS,
    GRANT_SOURCES,
    check_amount,
    check_choice,
    check_id,
    check_key,
    check_text,
    db_time,
    fingerprint,
    now_or,
)
from apiany.ledger.journal import check_labels, replayed, transfer
from apiany.ledger.lots import create_lot, draw, give_back
from apiany.models.ledger import (
    CreditLot,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    LotMovement,
)


def grant_credits(session: Session, *, user_id: int, amount: int, kind: str,
                  idempotency_key: str, actor: str = "system", memo: str = "",
                  reference_type: str = "", reference_id: str = "",
                  expires_at: datetime | None = None, price_minor: int = 0,
                  currency: str = "usd", lot_source: str | None = None) -> LedgerTransaction:
    """Move `amount` units from the kind's system account to the user and
    open a lot for them (`price_minor` is what was paid for the whole lot)."""
    check_amount(amount)
    check_choice(kind, "kind", GRANT_SOURCES)
    check_key(idempotency_key)
    labels = check_labels(actor=actor, memo=memo, reference_type=reference_type,
                          reference_id=reference_id)
    check_amount(price_minor, "price_minor", allow_zero=True)
    check_text(currency, "currency", 3, required=True)
    source = check_text(lot_source if lot_source is not None else kind, "lot_source", 20,
                        required=True)
    expires_at = db_time(expires_at, "expires_at")
    now = now_or(None)

    user = user_account(session, user_id, lock=True)
    source_code = GRANT_SOURCES[kind]
    fp = fingerprint(kind, [source_code, user.code], amount, reference_type, reference_id)
    original = replayed(session, idempotency_key, fp)
    if original is not None:
        return original
    debt = max(-user.balance, 0)
    tx, created = transfer(session, user, source_code, amount, kind=kind,
                           idempotency_key=idempotency_key, fp=fp, now=now, **labels)
    if not created:
        return tx
    create_lot(session, user, tx, amount, debt=debt, source=source, price_minor=price_minor,
               currency=currency.lower(), expires_at=expires_at, now=now)
    return tx


def post_debit(session: Session, user: LedgerAccount, *, amount: int, kind: str,
               idempotency_key: str, actor: str, memo: str, reference_type: str,
               reference_id: str, allow_overdraft: bool = False,
               first_lot_id: int | None = None) -> LedgerTransaction:
    """Debit a locked user account (shared by debit_credits and settle)."""
    now = now_or(None)
    sink_code = DEBIT_SINKS[kind]
    fp = fingerprint(kind, [user.code, sink_code], amount, reference_type, reference_id)
    original = replayed(session, idempotency_key, fp)
    if original is not None:
        return original
    if allow_overdraft:
        if user.balance - amount < -user.overdraft_limit:
            raise InsufficientCredits(
                f"{kind} of {format_credits(amount)} credits would take {user.code} below its "
                f"overdraft limit of {format_credits(user.overdraft_limit)} credits")
    elif user.balance - user.held < amount:
        raise InsufficientCredits(
            f"Insufficient credits: {format_credits(max(user.balance - user.held, 0))} "
            f"available, {format_credits(amount)} needed")
    tx, created = transfer(session, user, sink_code, -amount, kind=kind,
                           idempotency_key=idempotency_key, fp=fp, now=now, actor=actor,
                           memo=memo, reference_type=reference_type, reference_id=reference_id)
    if not created:
        return tx
    draw(session, user, tx, amount, first_lot_id=first_lot_id)
    if user.balance < 0:
        user.flagged = True
        session.flush()
    return tx


def debit_credits(session: Session, *, user_id: int, amount: int, kind: str,
                  idempotency_key: str, actor: str = "system", memo: str = "",
                  reference_type: str = "", reference_id: str = "",
                  allow_overdraft: bool = False,
                  from_lot_id: int | None = None) -> LedgerTransaction:
    """Take `amount` units from the user, drawing lots earliest expiry first
    (`from_lot_id` first: a clawback of one purchase takes that lot's unspent
    credits). Without allow_overdraft the available balance (balance - held)
    must cover it; with it the balance may fall to -overdraft_limit and a
    negative account is flagged."""
    check_amount(amount)
    check_choice(kind, "kind", DEBIT_SINKS)
    check_key(idempotency_key)
    check_labels(actor=actor, memo=memo, reference_type=reference_type, reference_id=reference_id)
    if allow_overdraft and kind != "clawback":
        raise LedgerError("only a clawback may overdraw an account", param="allow_overdraft")
    user = user_account(session, user_id, lock=True)
    if from_lot_id is not None:
        lot = session.get(CreditLot, check_id(from_lot_id, "from_lot_id"))
        if lot is None or lot.account_id != user.id:
            raise LedgerError(f"lot #{from_lot_id} is not a lot of {user.code}",
                              param="from_lot_id")
    return post_debit(session, user, amount=amount, kind=kind, idempotency_key=idempotency_key,
                      actor=actor, memo=memo, reference_type=reference_type,
                      reference_id=reference_id, allow_overdraft=bool(allow_overdraft),
                      first_lot_id=from_lot_id)


def refund_consumption(session: Session, *, transaction_id: int, idempotency_key: str,
                       actor: str = "system", memo: str = "", reference_type: str = "",
                       reference_id: str = "") -> LedgerTransaction:
    """Give back exactly what a consumption drew, to the same lots (a lot
    already past expiry gets it too; the next expiry run expires it). A
    consumption is refunded once; a replay of the key returns the refund."""
    check_id(transaction_id, "transaction_id")
    check_key(idempotency_key)
    labels = check_labels(actor=actor, memo=memo, reference_type=reference_type,
                          reference_id=reference_id)
    original = session.get(LedgerTransaction, transaction_id)
    if original is None:
        raise LedgerError(f"transaction #{transaction_id} does not exist")
    if original.kind != "consumption":
        raise LedgerError(f"transaction #{transaction_id} is a {original.kind}, "
                          "only a consumption can be refunded")
    user_entry = session.exec(
        select(LedgerEntry).join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.transaction_id == original.id, LedgerAccount.is_system.is_(False))
    ).one()
    amount = -user_entry.amount
    now = now_or(None)
    user = lock_account(session, user_entry.account_id)
    source_code = DEBIT_SINKS["consumption"]
    fp = fingerprint("refund", [source_code, user.code], amount, reference_type, reference_id,
                     reverses=original.id)
    again = replayed(session, idempotency_key, fp)
    if again is not None:
        return again
    earlier = session.exec(select(LedgerTransaction).where(
        LedgerTransaction.reverses_transaction_id == original.id)).first()
    if earlier is not None:
        raise LedgerError(f"consumption #{original.id} was already refunded by transaction "
                          f"#{earlier.id} ({earlier.idempotency_key!r})")
    debt = max(-user.balance, 0)
    tx, created = transfer(session, user, source_code, amount, kind="refund",
                           idempotency_key=idempotency_key, fp=fp, now=now,
                           reverses_transaction_id=original.id, **labels)
    if not created:
        return tx
    drawn = session.exec(
        select(CreditLot, LotMovement.amount)
        .join(LotMovement, LotMovement.lot_id == CreditLot.id)
        .where(LotMovement.transaction_id == original.id)
        .execution_options(populate_existing=True)).all()
    give_back(session, tx, [(lot, -moved) for lot, moved in drawn], debt)
    return tx
