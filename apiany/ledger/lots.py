"""Credit lots: every grant or purchase is a lot; spending draws the lot that
expires first (no expiry last, then oldest); expiry writes an expiration
transaction for what is left.

Invariant kept by every operation: the remaining of a user's lots adds up
to max(balance, 0). Credits arriving on a negative balance (after a bounded
clawback) first pay that debt, so the lots hold only what the user may
still spend. Lots are only changed while their account row is locked.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, func, select

from apiany.ledger.accounts import lock_account
from apiany.ledger.common import check_amount, db_time, fingerprint, now_or
from apiany.ledger.journal import replayed, transfer
from apiany.models.ledger import CreditLot, LedgerAccount, LedgerTransaction, LotMovement

LOT_ORDER = (CreditLot.expires_at.is_(None), CreditLot.expires_at, CreditLot.id)


def lot_order(lot: CreditLot) -> tuple:
    """LOT_ORDER in Python: earliest expiry first, no expiry last, then oldest."""
    return (lot.expires_at is None, lot.expires_at or 0, lot.id)


def open_lots(session: Session, account_id: int) -> list[CreditLot]:
    stmt = (select(CreditLot)
            .where(CreditLot.account_id == account_id, CreditLot.remaining > 0)
            .order_by(*LOT_ORDER)
            .execution_options(populate_existing=True))
    return list(session.exec(stmt))


def _move(session: Session, tx: LedgerTransaction, lot: CreditLot, delta: int) -> None:
    if delta:
        lot.remaining += delta
        session.add(LotMovement(transaction_id=tx.id, lot_id=lot.id, amount=delta))


def draw(session: Session, account: LedgerAccount, tx: LedgerTransaction, amount: int, *,
         first_lot_id: int | None = None) -> int:
    """Take up to `amount` from the account's lots, earliest expiry first
    (`first_lot_id` first of all, for a clawback of one purchase). Returns
    what the lots covered; less than `amount` only when overdrawing."""
    lots = open_lots(session, account.id)
    if first_lot_id is not None:
        lots.sort(key=lambda lot: lot.id != first_lot_id)  # stable: the rest keep their order
    left = amount
    for lot in lots:
        if not left:
            break
        take = min(lot.remaining, left)
        _move(session, tx, lot, -take)
        left -= take
    session.flush()
    return amount - left


def give_back(session: Session, tx: LedgerTransaction, parts: list[tuple[CreditLot, int]],
              debt: int) -> None:
    """Credit lots (a refund puts back what was drawn); `debt` (how far below
    zero the balance was) is paid from these credits first, earliest expiry
    first, so only the net change of each lot is written."""
    for lot, amount in sorted(parts, key=lambda part: lot_order(part[0])):
        repay = min(debt, amount)
        debt -= repay
        _move(session, tx, lot, amount - repay)
    session.flush()


def create_lot(session: Session, account: LedgerAccount, tx: LedgerTransaction, amount: int, *,
               debt: int, source: str, price_minor: int, currency: str,
               expires_at: datetime | None, now: datetime) -> CreditLot:
    lot = CreditLot(account_id=account.id, transaction_id=tx.id, source=source, amount=amount,
                    remaining=amount, price_minor=price_minor, currency=currency,
                    expires_at=expires_at, created_at=now)
    session.add(lot)
    session.flush()
    if debt:
        _move(session, tx, lot, -min(debt, amount))
        session.flush()
    return lot


def _expiry_key(session: Session, lot: CreditLot) -> str:
    """"expire-lot:{id}"; a lot expired again (credits refunded into it, or
    left over because holds covered them) gets ":2", ":3", ..."""
    done = session.exec(
        select(func.count()).select_from(LotMovement)
        .join(LedgerTransaction, LedgerTransaction.id == LotMovement.transaction_id)
        .where(LotMovement.lot_id == lot.id, LedgerTransaction.kind == "expiration")).one()
    return f"expire-lot:{lot.id}" if not done else f"expire-lot:{lot.id}:{done + 1}"


def _expire_one(session: Session, account: LedgerAccount, lot: CreditLot, now: datetime) -> bool:
    # Never more than the balance allows (a clawback may have taken part of
    # it) and never credits that active holds have reserved: those stay in
    # the lot, a settle draws them first, the next run expires the rest.
    amount = min(lot.remaining, max(account.balance - account.held, 0))
    if amount <= 0:
        return False
    sink_code = "system:expirations"
    fp = fingerprint("expiration", [account.code, sink_code], amount, "credit_lot", str(lot.id))
    key = _expiry_key(session, lot)
    if replayed(session, key, fp) is not None:
        return False
    tx, created = transfer(session, account, sink_code, -amount, kind="expiration",
                           idempotency_key=key, fp=fp, now=now, actor="system",
                           memo=f"lot #{lot.id} expired", reference_type="credit_lot",
                           reference_id=str(lot.id))
    if not created:
        return False
    _move(session, tx, lot, -amount)
    if lot.remaining == 0:
        lot.expired_at = now
    session.flush()
    return True


def expire_lots(session: Session, *, now: datetime | None = None, limit: int = 500) -> int:
    """Expire lots past `expires_at` that still hold credits: one expiration
    transaction per lot. Returns how many lots were expired."""
    now = now_or(now)
    check_amount(limit, "limit")
    rows = session.exec(
        select(CreditLot.id, CreditLot.account_id)
        .where(CreditLot.expires_at <= now, CreditLot.remaining > 0)
        .order_by(CreditLot.expires_at, CreditLot.id).limit(limit)).all()
    by_account: dict[int, list[int]] = {}
    for lot_id, account_id in rows:
        by_account.setdefault(account_id, []).append(lot_id)
    count = 0
    for account_id in sorted(by_account):  # one lock order for concurrent runs
        account = lock_account(session, account_id)
        lots = session.exec(select(CreditLot).where(CreditLot.id.in_(by_account[account_id]))
                            .order_by(*LOT_ORDER).execution_options(populate_existing=True))
        for lot in list(lots):
            if lot.remaining > 0 and lot.expires_at is not None and db_time(lot.expires_at) <= now:
                count += _expire_one(session, account, lot, now)
    return count
