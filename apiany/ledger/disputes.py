"""Freezing a purchase's credits while its payment is disputed.

A freeze is a long-lived hold (reference "dispute") on the user's account:
it moves no credits, it only lowers what can be spent, so every ledger
invariant (and `verify`) keeps holding. The purchase lot's `frozen` column
shows how much of it the freeze covers. `unfreeze` releases the hold; a lost
dispute then claws the credits back with `debit_credits(kind="clawback")`.
"""

from __future__ import annotations

from sqlmodel import Session

from apiany.ledger.accounts import user_account
from apiany.ledger.common import check_amount, check_id, check_key
from apiany.ledger.holds import release, reserve
from apiany.models.ledger import CreditLot, Hold, LedgerAccount

# A dispute takes weeks to months; the hold must outlive it (released explicitly).
FREEZE_TTL_SECONDS = 5 * 365 * 24 * 3600


def freeze_lot_credits(session: Session, *, lot_id: int, amount: int, idempotency_key: str,
                       reference_id: str = "") -> Hold | None:
    """Freeze up to `amount` units of the lot's unspent credits (never more
    than the lot still holds nor than the account has available). None when
    nothing is left to freeze. A replay of the key returns the same hold."""
    check_id(lot_id, "lot_id")
    check_amount(amount, allow_zero=True)
    check_key(idempotency_key)
    lot = session.get(CreditLot, lot_id)
    if lot is None:
        return None
    account = user_account(session, _user_id(session, lot), lock=True)
    session.refresh(lot)
    size = min(amount, lot.remaining, account.balance - account.held)
    if size <= 0:
        return None
    hold = reserve(session, user_id=account.user_id, amount=size, idempotency_key=idempotency_key,
                   reference_type="dispute", reference_id=reference_id,
                   ttl_seconds=FREEZE_TTL_SECONDS)
    lot.frozen = hold.amount
    session.flush()
    return hold


def unfreeze(session: Session, *, hold_id: int, lot_id: int | None = None) -> Hold:
    """Release a freeze (idempotent: a finished hold is returned unchanged)."""
    hold = release(session, hold_id)
    if lot_id is not None:
        lot = session.get(CreditLot, lot_id)
        if lot is not None and lot.frozen:
            lot.frozen = 0
            session.flush()
    return hold


def _user_id(session: Session, lot: CreditLot) -> int:
    account = session.get(LedgerAccount, lot.account_id)
    if account is None or account.user_id is None:
        raise ValueError(f"lot #{lot.id} does not belong to a user account")
    return account.user_id
