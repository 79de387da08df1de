"""The payment provider interface. Stripe is the production provider; the
manual provider (an admin records a bank transfer) proves another one is a
module. Providers talk to the outside world; what an event *does* to orders
and credits lives in `orders.py` / `apply.py`, shared by every provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlmodel import Session

from apiany.core.errors import InvalidRequest
from apiany.models.catalog import CreditPack
from apiany.models.payments import Order, PaymentEvent


@dataclass(frozen=True)
class Checkout:
    session_id: str
    url: str


@dataclass(frozen=True)
class Outcome:
    """What applying an event did: `status` is "applied" or "ignored"."""
    status: str = "applied"
    order_id: int | None = None
    note: str = ""


class PaymentProvider(Protocol):
    name: str

    def create_checkout(self, order: Order, pack: CreditPack, *, email: str,
                        return_base: str) -> Checkout:
        """Start paying `order` at the provider; where to send the buyer."""

    def verify_event(self, payload: bytes, headers: dict[str, str]) -> dict[str, Any]:
        """The provider event in `payload`, or BadSignature when it is not genuine."""

    def handle_event(self, session: Session, event: dict[str, Any],
                     row: PaymentEvent) -> Outcome:
        """Apply a verified event inside the caller's DB transaction."""

    def fetch_order_truth(self, order: Order) -> dict[str, Any] | None:
        """An event-shaped dict describing the order's state at the provider
        (same shape as a webhook event), or None when there is nothing new."""


class BadSignature(InvalidRequest):
    code = "invalid_signature"


class PaymentsNotConfigured(InvalidRequest):
    status_code = 503
    code = "payments_not_configured"


_PROVIDERS: dict[str, PaymentProvider] = {}


def register(provider: PaymentProvider) -> PaymentProvider:
    _PROVIDERS[provider.name] = provider
    return provider


def get_provider(name: str) -> PaymentProvider:
    if name == "stripe":
        from apiany.services.payments.stripe_provider import StripeProvider

        return StripeProvider()  # re-reads settings each time (tests change them)
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise InvalidRequest(f"unknown payment provider {name!r}") from None
