"""Stripe: Checkout Sessions (packs: mode=payment, plans: mode=subscription),
signed webhooks, refunds and subscription cancellation. The client is
`stripe.StripeClient` pointed at STRIPE_API_BASE when set (tests and local
runs use a fake Stripe API). Events are plain dicts (json of the raw body)."""

from __future__ import annotations

import json
import time
from typing import Any

from typing import TYPE_CHECKING

from sqlmodel import Session, select

from apiany.core.errors import InvalidRequest
from apiany.core.settings import get_settings
from apiany.models.catalog import CreditPack
from apiany.models.payments import Order, PaymentEvent
from apiany.services.payments import subscriptions
from apiany.services.payments.base import BadSignature, Checkout, Outcome, PaymentsNotConfigured
from apiany.services.payments.orders import (
    Cause,
    apply_refund,
    close_dispute,
    lock_order,
    mark_paid,
    open_dispute,
    transition,
)

if TYPE_CHECKING:
    import stripe

CHECKOUT_TYPES = ("checkout.session.completed", "checkout.session.async_payment_succeeded",
                  "checkout.session.async_payment_failed", "checkout.session.expired")


def _id(value: Any) -> str | None:
    """An expandable field: an id string or an object with an id."""
    if isinstance(value, dict):
        return value.get("id")
    return value or None


def order_key(order: Order) -> str:
    """Unique across databases (a reset dev database reuses order ids within
    Stripe's 24 h idempotency window), stable across retries of one order."""
    return f"{order.id}-{int(order.created_at.timestamp() * 1000)}"


def _stripe():
    """The stripe package, imported on first use: ~11 MB that every server
    worker would carry for the few requests that touch payments."""
    import stripe

    return stripe


def _client() -> stripe.StripeClient:
    stripe = _stripe()
    settings = get_settings()
    if not settings.stripe_secret_key:
        raise PaymentsNotConfigured("Payments are not configured (STRIPE_SECRET_KEY is not set).")
    kwargs: dict[str, Any] = {}
    if settings.stripe_api_base:
        kwargs["base_addresses"] = {"api": settings.stripe_api_base}
    return stripe.StripeClient(settings.stripe_secret_key, max_network_retries=2, **kwargs)


def _call(fn, *args, **kwargs):
    stripe = _stripe()
    try:
        return fn(*args, **kwargs).to_dict()
    except stripe.StripeError as exc:
        raise InvalidRequest(f"Stripe refused the request: {exc.user_message or exc}",
                             code="payment_provider_error", status_code=502) from exc


class StripeProvider:
    name = "stripe"

    # -- outgoing calls -------------------------------------------------
    def create_checkout(self, order: Order, pack: CreditPack, *, email: str,
                        return_base: str) -> Checkout:
        meta = {"order_id": str(order.id), "user_id": str(order.user_id), "pack": pack.code}
        price: dict[str, Any] = {"currency": order.currency, "unit_amount": order.amount_minor,
                                 "product_data": {"name": pack.name}}
        params: dict[str, Any] = {
            "client_reference_id": str(order.id),
            "success_url": f"{return_base}/billing/success?order={order.id}"
                           "&session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": f"{return_base}/billing?canceled={order.id}",
            "line_items": [{"quantity": 1, "price_data": price}],
            "metadata": meta,
            "customer_email": email,
        }
        if pack.kind == "plan":
            price["recurring"] = {"interval": pack.interval or "month"}
            params.update(mode="subscription", subscription_data={"metadata": meta})
        else:
            params.update(mode="payment", payment_intent_data={"metadata": meta})
        data = _call(_client().v1.checkout.sessions.create, params,
                     {"idempotency_key": f"apiany-checkout-{order_key(order)}"})
        return Checkout(session_id=data["id"], url=data["url"])

    def refund(self, order: Order, amount: int, idempotency_key: str) -> dict[str, Any]:
        if not order.provider_payment_id:
            raise InvalidRequest(f"order {order.id} has no Stripe payment to refund")
        params = {"payment_intent": order.provider_payment_id, "amount": amount,
                  "metadata": {"order_id": str(order.id)}}
        return _call(_client().v1.refunds.create, params, {"idempotency_key": idempotency_key})

    def cancel_subscription(self, subscription_id: str) -> dict[str, Any]:
        return _call(_client().v1.subscriptions.update, subscription_id,
                     {"cancel_at_period_end": True},
                     {"idempotency_key": f"apiany-cancel-{subscription_id}-{int(time.time()) // 60}"})

    def fetch_order_truth(self, order: Order) -> dict[str, Any] | None:
        if not order.provider_session_id:
            return None
        obj = _call(_client().v1.checkout.sessions.retrieve, order.provider_session_id)
        if obj.get("status") == "complete":
            kind = ("checkout.session.completed" if obj.get("payment_status") != "unpaid"
                    else None)
        elif obj.get("status") == "expired":
            kind = "checkout.session.expired"
        else:
            kind = None
        if kind is None:
            return None
        return {"id": f"reconcile:{obj['id']}:{kind}", "type": kind, "created": int(time.time()),
                "data": {"object": obj}}

    # -- incoming events --------------------------------------------------
    def verify_event(self, payload: bytes, headers: dict[str, str]) -> dict[str, Any]:
        settings = get_settings()
        if not settings.stripe_webhook_secret:
            raise PaymentsNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
        header = headers.get("stripe-signature")
        if not header:
            raise BadSignature("missing Stripe-Signature header")
        stripe = _stripe()
        try:
            stripe.WebhookSignature.verify_header(
                payload.decode("utf-8"), header, settings.stripe_webhook_secret,
                tolerance=settings.stripe_webhook_tolerance_seconds)
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
            raise BadSignature(f"invalid Stripe webhook: {exc}") from None
        if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
            raise BadSignature("not a Stripe event")
        return event

    def handle_event(self, session: Session, event: dict[str, Any], row: PaymentEvent) -> Outcome:
        kind = event["type"]
        obj = (event.get("data") or {}).get("object") or {}
        cause = Cause("event" if not event["id"].startswith("reconcile:") else "job", event["id"])
        if kind.startswith("customer.subscription."):
            return subscriptions.on_subscription_change(
                session, obj, created=int(event.get("created") or 0),
                deleted=kind == "customer.subscription.deleted", cause=cause)
        if kind in ("invoice.paid", "invoice.payment_succeeded"):
            return subscriptions.on_invoice_paid(session, obj, cause=cause)
        if kind in CHECKOUT_TYPES:
            order = self._checkout_order(session, obj)
        elif kind in ("charge.refunded", "refund.created", "refund.updated") or \
                kind.startswith("charge.dispute."):
            order = self._payment_order(session, obj)
        else:
            return Outcome("ignored", note=f"unhandled event type {kind}")
        if order is None:
            return Outcome("ignored", note="no matching order")
        handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
        if handler is None:  # charge.dispute.updated, refund.failed, ...: recorded only
            return Outcome("ignored", order.id, f"{kind} needs no action")
        return handler(session, order, obj, cause) or Outcome(order_id=order.id)

    def _checkout_order(self, session: Session, obj: dict) -> Order | None:
        ref = obj.get("client_reference_id") or (obj.get("metadata") or {}).get("order_id")
        order = lock_order(session, int(ref)) if ref and str(ref).isdigit() else None
        if order is None and obj.get("id"):
            found = session.exec(select(Order.id).where(Order.provider == "stripe",
                                 Order.provider_session_id == obj["id"])).first()
            order = lock_order(session, found) if found else None
        if order is not None and (order.provider != "stripe"
                                  or order.provider_session_id not in (None, obj.get("id"))):
            return None  # another session's event naming our order: not ours to apply
        if order is not None and order.provider_session_id is None:
            order.provider_session_id = obj.get("id")  # we crashed before saving it
        return order

    def _payment_order(self, session: Session, obj: dict) -> Order | None:
        payment = _id(obj.get("payment_intent"))
        if payment:
            found = session.exec(select(Order.id).where(Order.provider == "stripe",
                                 Order.provider_payment_id == payment)).first()
            if found:
                return lock_order(session, found)
        ref = (obj.get("metadata") or {}).get("order_id")
        return lock_order(session, int(ref)) if ref and str(ref).isdigit() else None

    def _on_checkout_session_completed(self, session, order, obj, cause):
        if obj.get("mode") == "subscription":
            subscriptions.on_checkout_completed(session, order, obj, cause=cause)
            return None
        if obj.get("payment_status") in ("paid", "no_payment_required"):
            return self._paid(session, order, obj, cause)
        if not order.provider_payment_id:
            order.provider_payment_id = _id(obj.get("payment_intent"))
        transition(session, order, "pending", cause, "awaiting asynchronous payment")
        return None

    def _on_checkout_session_async_payment_succeeded(self, session, order, obj, cause):
        return self._paid(session, order, obj, cause)

    def _on_checkout_session_async_payment_failed(self, session, order, obj, cause):
        transition(session, order, "failed", cause, "asynchronous payment failed")

    def _on_checkout_session_expired(self, session, order, obj, cause):
        transition(session, order, "expired", cause, "checkout session expired")

    def _paid(self, session, order, obj, cause):
        mark_paid(session, order, amount=int(obj.get("amount_total") or 0),
                  currency=obj.get("currency") or "", cause=cause,
                  payment_id=_id(obj.get("payment_intent")))
        return None

    # Each is a lower bound of what is refunded in all, so the order keeps
    # the larger: charge.refunded carries the cumulative amount, refund.created
    # one refund (counted once by id). Neither double counts the other.
    def _on_charge_refunded(self, session, order, obj, cause):
        apply_refund(session, order, refunded_total=int(obj.get("amount_refunded") or 0),
                     cause=cause)

    def _on_refund_created(self, session, order, obj, cause):
        if obj.get("status") not in ("succeeded", "pending") or obj.get("id") in order.refund_ids:
            return Outcome("ignored", order.id, f"refund {obj.get('status')} or already counted")
        order.refund_ids = [*order.refund_ids, obj.get("id")]
        order.refunds_listed_minor += int(obj.get("amount") or 0)
        apply_refund(session, order, refunded_total=order.refunds_listed_minor, cause=cause)
        return None

    _on_refund_updated = _on_refund_created

    def _on_charge_dispute_created(self, session, order, obj, cause):
        open_dispute(session, order, amount=int(obj.get("amount") or order.paid_minor),
                     cause=cause)

    def _on_charge_dispute_closed(self, session, order, obj, cause):
        close_dispute(session, order, won=obj.get("status") != "lost", cause=cause)
