"""The manual provider: an admin records money received outside Stripe (a
bank transfer, an invoice paid offline) with its reference. The payment is
an event like any other: stored once under "manual:<reference>" and applied
through the same order code, so recording it twice grants once."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from apiany.core.errors import InvalidRequest
from apiany.models.catalog import CreditPack
from apiany.models.payments import Order, PaymentEvent
from apiany.services.payments.base import Checkout, Outcome, register
from apiany.services.payments.orders import Cause, get_pack, lock_order, mark_paid, new_order


class ManualProvider:
    name = "manual"

    def create_checkout(self, order: Order, pack: CreditPack, *, email: str,
                        return_base: str) -> Checkout:
        raise InvalidRequest("manual payments are recorded by an admin, not checked out")

    def verify_event(self, payload: bytes, headers: dict[str, str]) -> dict[str, Any]:
        raise InvalidRequest("the manual provider receives no webhooks")

    def fetch_order_truth(self, order: Order) -> dict[str, Any] | None:
        return None  # the admin's record is the truth

    def handle_event(self, session: Session, event: dict[str, Any], row: PaymentEvent) -> Outcome:
        data = event["data"]["object"]
        cause = Cause("admin", str(data["admin_id"]))
        existing = session.exec(select(Order.id).where(
            Order.provider == "manual", Order.provider_reference == data["reference"])).first()
        if existing is not None:
            return Outcome("ignored", existing, "reference already recorded")
        pack = get_pack(session, data["pack"])
        order = new_order(session, user_id=data["user_id"], pack=pack, provider="manual",
                          cause=cause, provider_reference=data["reference"],
                          provider_payment_id=data["reference"])
        order = lock_order(session, order.id)
        mark_paid(session, order, amount=data["amount_minor"], currency=data["currency"],
                  cause=cause)
        return Outcome(order_id=order.id, note=data.get("note", "")[:500])


def manual_event(*, admin_id: int, user_id: int, pack: str, amount_minor: int, currency: str,
                 reference: str, note: str = "") -> dict[str, Any]:
    reference = reference.strip()
    if not reference:
        raise InvalidRequest("a manual payment needs the bank or invoice reference",
                             param="reference")
    return {"id": f"manual:{reference}"[:255], "type": "manual.payment_received", "created": 0,
            "data": {"object": {"admin_id": admin_id, "user_id": user_id, "pack": pack,
                                "amount_minor": amount_minor, "currency": currency.lower(),
                                "reference": reference, "note": note}}}


register(ManualProvider())
