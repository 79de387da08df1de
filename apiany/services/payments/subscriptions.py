"""Monthly plans. Checkout (mode=subscription) links the order to the Stripe
subscription; every paid invoice grants the period's credits (expiring at
the period end, once per invoice); subscription updates change the status,
but never from an event older than the newest one applied, and a deleted
(canceled) subscription is final: a late "active" never resurrects it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from apiany.core.db import is_postgres, utcnow
from apiany.ledger import grant_credits
from apiany.models.ledger import CreditLot
from apiany.models.payments import Order, Subscription
from apiany.services import audit
from apiany.services.payments.base import Outcome
from apiany.services.payments.orders import Cause, flag, lock_order, transition

LIVE_STATUSES = ("active", "trialing", "past_due", "incomplete")


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def _invoice_subscription(inv: dict) -> tuple[str | None, dict]:
    """(subscription id, subscription metadata) across Stripe API versions."""
    details = ((inv.get("parent") or {}).get("subscription_details")
               or inv.get("subscription_details") or {})
    sub = details.get("subscription") or inv.get("subscription")
    meta = details.get("metadata") or {}
    if not meta:
        lines = (inv.get("lines") or {}).get("data") or []
        meta = (lines[0].get("metadata") or {}) if lines else {}
    return (sub.get("id") if isinstance(sub, dict) else sub), meta


def _period_end(obj: dict) -> datetime | None:
    items = (obj.get("items") or obj.get("lines") or {}).get("data") or []
    first = items[0] if items else {}
    return _ts(first.get("current_period_end") or (first.get("period") or {}).get("end")
               or obj.get("current_period_end") or obj.get("period_end"))


def _find(session: Session, provider_id: str) -> Subscription | None:
    stmt = select(Subscription).where(Subscription.provider == "stripe",
                                      Subscription.provider_subscription_id == provider_id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return session.exec(stmt.execution_options(populate_existing=True)).first()


def _ensure(session: Session, provider_id: str, meta: dict) -> Subscription | None:
    """The subscription row, created from the order named in its metadata
    (events can arrive before checkout.session.completed)."""
    sub = _find(session, provider_id)
    if sub is not None:
        return sub
    order_id = str(meta.get("order_id") or "")
    order = session.get(Order, int(order_id)) if order_id.isdigit() else None
    if order is None:
        order = session.exec(select(Order).where(Order.provider_subscription_id == provider_id)
                             ).first()
    if order is None:
        return None
    order.provider_subscription_id = provider_id
    sub = Subscription(user_id=order.user_id, order_id=order.id, pack_id=order.pack_id,
                       provider_subscription_id=provider_id)
    session.add(sub)
    session.flush()
    return sub


def on_checkout_completed(session: Session, order: Order, obj: dict, *, cause: Cause) -> None:
    provider_id = obj.get("subscription")
    provider_id = provider_id.get("id") if isinstance(provider_id, dict) else provider_id
    if provider_id:
        _ensure(session, provider_id, {"order_id": str(order.id)})
    transition(session, order, "pending", cause, "subscription started; awaiting first invoice")


def on_invoice_paid(session: Session, inv: dict, *, cause: Cause) -> Outcome:
    provider_id, meta = _invoice_subscription(inv)
    sub = _ensure(session, provider_id, meta) if provider_id else None
    if sub is None or sub.order_id is None:
        return Outcome("ignored", note="invoice of an unknown subscription")
    order = lock_order(session, sub.order_id)
    paid, currency = int(inv.get("amount_paid") or 0), (inv.get("currency") or "").lower()
    if currency != order.currency or paid < order.amount_minor:
        flag(session, order, f"invoice {inv.get('id')} paid {paid} {currency}, plan costs "
                             f"{order.amount_minor} {order.currency}", cause)
        return Outcome(order_id=order.id, note="amount mismatch")
    period_end = _period_end(inv)
    tx = grant_credits(session, user_id=order.user_id, amount=order.credits, kind="subscription",
                       idempotency_key=f"invoice:{inv['id']}", actor=cause.actor,
                       memo=f"{order.pack_code} period", reference_type="order",
                       reference_id=str(order.id), expires_at=period_end, price_minor=paid,
                       currency=order.currency)
    if order.grant_transaction_id is None:
        lot = session.exec(select(CreditLot).where(CreditLot.transaction_id == tx.id)).first()
        order.grant_transaction_id, order.lot_id = tx.id, lot.id if lot else None
        order.paid_minor, order.paid_at = paid, utcnow()
        transition(session, order, "paid", cause, f"first invoice {inv['id']}")
    if period_end and (sub.current_period_end is None or period_end > sub.current_period_end):
        sub.current_period_end = period_end
    if sub.status != "canceled":
        sub.status = "active"
    sub.updated_at = utcnow()
    session.flush()
    return Outcome(order_id=order.id, note=f"granted for invoice {inv['id']}")


def on_subscription_change(session: Session, obj: dict, *, created: int, deleted: bool,
                           cause: Cause) -> Outcome:
    sub = _ensure(session, obj.get("id") or "", obj.get("metadata") or {})
    if sub is None:
        return Outcome("ignored", note="unknown subscription")
    if created < sub.last_event_created:
        return Outcome("ignored", sub.order_id, f"older than the last applied event "
                                                f"({created} < {sub.last_event_created})")
    if sub.status == "canceled" and not deleted:
        return Outcome("ignored", sub.order_id, "the subscription is canceled; that is final")
    before = sub.status
    sub.status = "canceled" if deleted else str(obj.get("status") or sub.status)
    sub.cancel_at_period_end = bool(obj.get("cancel_at_period_end"))
    sub.current_period_end = _period_end(obj) or sub.current_period_end
    if sub.status == "canceled" and sub.canceled_at is None:
        sub.canceled_at = _ts(obj.get("canceled_at")) or utcnow()
    sub.last_event_created = max(created, sub.last_event_created)
    sub.updated_at = utcnow()
    audit.record(session, actor=cause.actor, action="subscription.updated",
                 target_type="subscription", target_id=sub.id,
                 details={"from": before, "to": sub.status, "cause_id": cause.id})
    session.flush()
    return Outcome(order_id=sub.order_id, note=f"{before} -> {sub.status}")


def current_subscription(session: Session, user_id: int) -> Subscription | None:
    return session.exec(select(Subscription).where(Subscription.user_id == user_id,
                                                   Subscription.status.in_(LIVE_STATUSES))
                        .order_by(Subscription.id.desc())).first()


def mark_cancel_requested(session: Session, subscription_id: int, *, actor: str) -> Subscription:
    """Record that the provider was asked to cancel at the period end."""
    sub = session.get(Subscription, subscription_id)
    sub.cancel_at_period_end = True
    sub.updated_at = utcnow()
    audit.record(session, actor=actor, action="subscription.cancel", target_type="subscription",
                 target_id=sub.id, details={"at_period_end": True})
    session.flush()
    return sub
