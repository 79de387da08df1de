"""Payments: a provider interface (`base.PaymentProvider`) with Stripe
(`stripe_provider`) and manual bank transfers (`manual_provider`), the
order state machine (`orders`), webhook processing (`events`), plans
(`subscriptions`), use cases (`checkout`) and the reconcile job."""

from apiany.services.payments.base import BadSignature, PaymentProvider, get_provider
from apiany.services.payments.checkout import (
    admin_refund,
    cancel_my_subscription,
    record_manual_payment,
    start_checkout,
)
from apiany.services.payments.events import Received, apply_event, receive_event
from apiany.services.payments.reconcile import reconcile_orders

__all__ = ["BadSignature", "PaymentProvider", "Received", "admin_refund", "apply_event",
           "cancel_my_subscription", "get_provider", "receive_event", "reconcile_orders",
           "record_manual_payment", "start_checkout"]
