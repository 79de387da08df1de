"""Use cases the routers and the console call: start a checkout, record a
manual payment, refund (admin), cancel a subscription. The order row is
committed before the provider is called, so a provider outage leaves a
visible `created` order and never a payment without an order."""

from __future__ import annotations

from apiany.core.db import session_scope
from apiany.core.errors import InvalidRequest, NotFound
from apiany.core.settings import get_settings
from apiany.models.payments import Order, Subscription
from apiany.models.users import User
from apiany.services import audit
from apiany.services.accounts import get_user_by_email
from apiany.services.payments import manual_provider
from apiany.services.payments.base import get_provider
from apiany.services.payments.events import Received, apply_event
from apiany.services.payments.orders import (
    PAID_STATES,
    Cause,
    get_pack,
    lock_order,
    new_order,
    transition,
)
from apiany.services.payments.stripe_provider import order_key
from apiany.services.payments.subscriptions import current_subscription, mark_cancel_requested


def start_checkout(*, user_id: int, pack_code: str, return_base: str | None = None,
                   provider_name: str = "stripe") -> Order:
    """Create the order and the provider's checkout session; the returned
    order carries `checkout_url`."""
    provider = get_provider(provider_name)
    base = (get_settings().public_base_url or return_base or get_settings().base_url).rstrip("/")
    with session_scope() as session:
        user = session.get(User, user_id)
        pack = get_pack(session, pack_code)
        if user is None:
            raise NotFound("unknown user")
        if pack.kind == "plan" and current_subscription(session, user_id) is not None:
            raise InvalidRequest("You already have an active subscription.", param="pack")
        order = new_order(session, user_id=user_id, pack=pack, provider=provider_name,
                          cause=Cause("user", str(user_id)))
        email = user.email
    checkout = provider.create_checkout(order, pack, email=email, return_base=base)
    with session_scope() as session:
        order = lock_order(session, order.id)
        order.provider_session_id, order.checkout_url = checkout.session_id, checkout.url
        transition(session, order, "pending", Cause("user", str(user_id)),
                   f"checkout session {checkout.session_id}")
        return order


def record_manual_payment(*, admin: User, email: str, pack_code: str, amount_minor: int,
                          currency: str, reference: str, note: str = "") -> Received:
    with session_scope(readonly=True) as session:
        user = get_user_by_email(session, email)
        if user is None:
            raise NotFound(f"no user {email!r}", param="email")
    event = manual_provider.manual_event(admin_id=admin.id, user_id=user.id, pack=pack_code,
                                         amount_minor=amount_minor, currency=currency,
                                         reference=reference, note=note)
    return apply_event("manual", event)


def admin_refund(*, admin: User, order_id: int, amount_minor: int | None = None) -> dict:
    """Ask the provider to refund; credits are clawed back only when the
    provider's refund event arrives (the same path as a refund made in the
    provider's dashboard). No DB transaction is open during the call."""
    with session_scope(readonly=True) as session:
        order = session.get(Order, order_id)
        if order is None:
            raise NotFound(f"order {order_id} not found")
    if order.state not in PAID_STATES or order.provider != "stripe":
        raise InvalidRequest(f"order {order_id} ({order.provider}, {order.state}) cannot be "
                             "refunded through the provider")
    left = (order.paid_minor or order.amount_minor) - order.refunded_minor
    amount = left if amount_minor is None else amount_minor
    if not 0 < amount <= left:
        raise InvalidRequest(f"refund amount must be between 1 and {left}", param="amount")
    key = f"apiany-refund-{order_key(order)}-{order.refunded_minor}-{amount}"
    refund = get_provider("stripe").refund(order, amount, key)
    with session_scope() as session:
        audit.record(session, actor=f"admin:{admin.id}", actor_user_id=admin.id,
                     action="order.refund_requested", target_type="order", target_id=order.id,
                     details={"amount_minor": amount, "refund_id": refund.get("id")})
    return {"order_id": order.id, "refund_id": refund.get("id"), "amount_minor": amount,
            "status": refund.get("status")}


def cancel_my_subscription(*, user_id: int) -> Subscription:
    """Cancel at the period end through the provider (outside any DB
    transaction); the status changes when its event arrives."""
    with session_scope(readonly=True) as session:
        sub = current_subscription(session, user_id)
    if sub is None:
        raise NotFound("You have no active subscription.")
    if sub.cancel_at_period_end:
        raise InvalidRequest("The subscription is already set to cancel at the period end.")
    get_provider(sub.provider).cancel_subscription(sub.provider_subscription_id)
    with session_scope() as session:
        return mark_cancel_requested(session, sub.id, actor=f"user:{user_id}")
