"""Orders: the state machine, its audit trail, and the credit effects of a
payment (grant on paid, clawback on refund / lost dispute, freeze while
disputed). Every change writes an OrderEvent with its cause and an audit row,
in the caller's transaction. Credits move only through `apiany.ledger`.

created -> pending -> paid | failed | expired | canceled
paid -> refunded | partially_refunded | disputed -> dispute_won | dispute_lost
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from apiany.core.db import is_postgres, utcnow
from apiany.core.errors import InsufficientCredits, InvalidRequest, NotFound
from apiany.ledger import debit_credits, grant_credits, user_account
from apiany.ledger.disputes import freeze_lot_credits, unfreeze
from apiany.models.catalog import CreditPack
from apiany.models.ledger import CreditLot
from apiany.models.payments import Order, OrderEvent
from apiany.services import audit

FINAL_UNPAID = ("failed", "expired", "canceled")
PAID_STATES = ("paid", "refunded", "partially_refunded", "disputed", "dispute_won",
               "dispute_lost")
ALLOWED = {
    "created": {"pending", "paid", "failed", "expired", "canceled"},
    "pending": {"paid", "failed", "expired", "canceled"},
    # money can still arrive for an order we gave up on (reconcile, late async payment)
    "failed": {"paid"}, "expired": {"paid"}, "canceled": {"paid"},
    "paid": {"refunded", "partially_refunded", "disputed"},
    "partially_refunded": {"refunded", "partially_refunded", "disputed"},
    "disputed": {"dispute_won", "dispute_lost", "refunded", "partially_refunded"},
    "dispute_won": {"refunded", "partially_refunded", "disputed"},
    "dispute_lost": {"refunded"},
    "refunded": {"disputed"},
}


@dataclass(frozen=True)
class Cause:
    """Why an order changed: ("event", "evt_123"), ("admin", "1"), ("job", "reconcile")."""
    kind: str
    id: str = ""

    @property
    def actor(self) -> str:
        return {"event": "stripe", "admin": f"admin:{self.id}", "user": f"user:{self.id}",
                "job": f"job:{self.id}"}.get(self.kind, self.kind)


def lock_order(session: Session, order_id: int) -> Order | None:
    stmt = select(Order).where(Order.id == order_id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return session.exec(stmt.execution_options(populate_existing=True)).first()


def log(session: Session, order: Order, to_state: str, cause: Cause, note: str = "",
        from_state: str | None = None) -> None:
    """Record a change (or a note on the current state) without checks."""
    from_state = order.state if from_state is None else from_state
    session.add(OrderEvent(order_id=order.id, from_state=from_state, to_state=to_state,
                           cause_type=cause.kind, cause_id=cause.id[:255], note=note[:500]))
    audit.record(session, actor=cause.actor, action=f"order.{to_state}", target_type="order",
                 target_id=order.id, details={"from": from_state, "cause": cause.kind,
                                              "cause_id": cause.id, "note": note})
    order.state = to_state
    order.updated_at = utcnow()
    session.flush()


def transition(session: Session, order: Order, to_state: str, cause: Cause,
               note: str = "") -> bool:
    """Move to `to_state` when the machine allows it; False (and a review
    flag when the change looks like lost money) otherwise."""
    if to_state not in ALLOWED.get(order.state, set()):
        if to_state != order.state:
            log(session, order, order.state, cause, f"ignored change to {to_state}: {note}")
        return False
    log(session, order, to_state, cause, note)
    return True


def flag(session: Session, order: Order, reason: str, cause: Cause) -> None:
    order.needs_review = True
    order.review_reason = reason[:500]
    log(session, order, order.state, cause, f"flagged for review: {reason}")


def get_pack(session: Session, code: str) -> CreditPack:
    pack = session.exec(select(CreditPack).where(CreditPack.code == code,
                                                 CreditPack.active.is_(True))).first()
    if pack is None:
        raise NotFound(f"no active credit pack or plan {code!r}", param="pack")
    return pack


def new_order(session: Session, *, user_id: int, pack: CreditPack, provider: str,
              cause: Cause, **fields) -> Order:
    order = Order(user_id=user_id, pack_id=pack.id, pack_code=pack.code, kind=pack.kind,
                  provider=provider, amount_minor=pack.price_minor, currency=pack.currency,
                  credits=pack.credits, expires_days=pack.expires_days, **fields)
    session.add(order)
    session.flush()
    log(session, order, "created", cause, f"{pack.kind} {pack.code}", from_state="")
    return order


def user_order(session: Session, user_id: int, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None or order.user_id != user_id:
        raise NotFound(f"order {order_id} not found")
    return order


def list_orders(session: Session, *, user_id: int | None = None, state: str | None = None,
                limit: int = 50, offset: int = 0) -> list[Order]:
    stmt = select(Order)
    if user_id is not None:
        stmt = stmt.where(Order.user_id == user_id)
    if state:
        stmt = stmt.where(Order.state == state)
    return list(session.exec(stmt.order_by(Order.id.desc()).offset(offset).limit(limit)))


def order_timeline(session: Session, order_id: int) -> list[OrderEvent]:
    return list(session.exec(select(OrderEvent).where(OrderEvent.order_id == order_id)
                             .order_by(OrderEvent.id)))


def mark_paid(session: Session, order: Order, *, amount: int, currency: str, cause: Cause,
              payment_id: str | None = None) -> bool:
    """Grant the pack's credits once: only when the amount and currency paid
    are the order's, else flag it. True when this call granted."""
    if payment_id and not order.provider_payment_id:
        order.provider_payment_id = payment_id
    if order.grant_transaction_id is not None:
        return False
    if amount != order.amount_minor or (currency or "").lower() != order.currency:
        flag(session, order, f"paid {amount} {currency} but the order is {order.amount_minor} "
                             f"{order.currency}", cause)
        return False
    expires = utcnow() + timedelta(days=order.expires_days) if order.expires_days else None
    tx = grant_credits(session, user_id=order.user_id, amount=order.credits, kind="purchase",
                       idempotency_key=f"order:{order.id}:purchase", actor=cause.actor,
                       memo=f"{order.pack_code} ({order.provider})", reference_type="order",
                       reference_id=str(order.id), expires_at=expires, price_minor=amount,
                       currency=order.currency)
    lot = session.exec(select(CreditLot).where(CreditLot.transaction_id == tx.id)).first()
    order.grant_transaction_id, order.lot_id = tx.id, lot.id if lot else None
    order.paid_minor, order.paid_at = amount, utcnow()
    transition(session, order, "paid", cause)
    return True


def _share(order: Order, minor: int) -> int:
    """The credits bought by `minor` of the order's price (rounded down)."""
    total = order.paid_minor or order.amount_minor
    return order.credits * min(minor, total) // total if total else 0


def claw_back(session: Session, order: Order, target: int, cause: Cause, why: str) -> int:
    """Take back credits so that `target` units of this purchase are clawed
    back in all; the balance may go negative down to the account's limit
    (the account is then flagged). Returns what this call took."""
    wanted = target - order.clawed_back
    if wanted <= 0 or order.grant_transaction_id is None:
        return 0
    account = user_account(session, order.user_id, lock=True)
    amount = min(wanted, account.balance + account.overdraft_limit)
    if amount < wanted:
        flag(session, order, f"could only claw back {max(amount, 0)} of {wanted} units", cause)
    if amount <= 0:
        return 0
    try:
        debit_credits(session, user_id=order.user_id, amount=amount, kind="clawback",
                      idempotency_key=f"order:{order.id}:clawback:{order.clawed_back + amount}",
                      actor=cause.actor, memo=why, reference_type="order",
                      reference_id=str(order.id), allow_overdraft=True, from_lot_id=order.lot_id)
    except InsufficientCredits as exc:  # the limit moved under us: never half-apply
        raise InvalidRequest(f"clawback for order {order.id} failed: {exc.message}") from exc
    order.clawed_back += amount
    if account.balance < 0:
        account.flagged = True
    session.flush()
    return amount


def apply_refund(session: Session, order: Order, *, refunded_total: int, cause: Cause) -> None:
    """`refunded_total` minor units of the order are refunded (cumulative)."""
    if refunded_total <= order.refunded_minor:
        return
    order.refunded_minor = min(refunded_total, order.paid_minor or order.amount_minor)
    claw_back(session, order, _share(order, order.refunded_minor), cause,
              f"refund of {order.refunded_minor} {order.currency}")
    full = order.refunded_minor >= (order.paid_minor or order.amount_minor)
    state = "refunded" if full else "partially_refunded"
    if not transition(session, order, state, cause, f"refunded {order.refunded_minor}"):
        log(session, order, order.state, cause, f"refunded {order.refunded_minor}")


def open_dispute(session: Session, order: Order, *, amount: int, cause: Cause) -> None:
    order.disputed_minor = amount
    if order.lot_id is not None and order.dispute_hold_id is None:
        hold = freeze_lot_credits(session, lot_id=order.lot_id,
                                  amount=_share(order, amount) - order.clawed_back,
                                  idempotency_key=f"order:{order.id}:dispute:{cause.id}",
                                  reference_id=str(order.id))
        order.dispute_hold_id = hold.id if hold else None
    transition(session, order, "disputed", cause, f"disputed {amount} {order.currency}")


def close_dispute(session: Session, order: Order, *, won: bool, cause: Cause) -> None:
    if order.dispute_hold_id is not None:
        unfreeze(session, hold_id=order.dispute_hold_id, lot_id=order.lot_id)
        order.dispute_hold_id = None
    if not won:
        amount = order.disputed_minor or order.paid_minor
        claw_back(session, order, _share(order, amount), cause,
                  f"lost dispute of {amount} {order.currency}")
    transition(session, order, "dispute_won" if won else "dispute_lost", cause)
