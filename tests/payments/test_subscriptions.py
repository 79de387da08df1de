"""Monthly plans: the first invoice and each renewal grant the period's
credits once (expiring at the period end); cancellation goes through Stripe;
an older update arriving after the deletion never resurrects the plan."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import select

from apiany.api.app import create_api
from apiany.core.db import session_scope
from apiany.models import CreditLot, PaymentEvent, Subscription
from apiany.services.accounts import create_console_session
from tests.payments.conftest import C, balance, count, event, order, transactions

DAY = 86400


def invoice(inv_id: str, sub_id: str, order_id: int, start: int, amount: int = 5000) -> dict:
    return {"id": inv_id, "object": "invoice", "amount_paid": amount, "currency": "usd",
            "status": "paid",
            "parent": {"type": "subscription_details", "subscription_details": {
                "subscription": sub_id, "metadata": {"order_id": str(order_id)}}},
            "lines": {"data": [{"period": {"start": start, "end": start + 30 * DAY}}]}}


def sub_obj(sub_id: str, status: str, **extra) -> dict:
    return {"id": sub_id, "object": "subscription", "status": status,
            "cancel_at_period_end": False, **extra}


def subscription(sub_id: str) -> Subscription:
    with session_scope(readonly=True) as s:
        return s.exec(select(Subscription).where(
            Subscription.provider_subscription_id == sub_id)).one()


def start_plan(pay, user):
    created = pay.checkout(user, "monthly")
    session = pay.fake.sessions[created.provider_session_id]
    assert session["mode"] == "subscription"
    assert session["subscription_metadata"]["order_id"] == str(created.id)
    return created, pay.fake.pay(created.provider_session_id)


def test_first_invoice_renewal_cancellation_and_late_update(pay):
    user = pay.user()
    created, paid = start_plan(pay, user)
    sub_id = paid["subscription"]
    now = int(time.time())
    pay.deliver(event("checkout.session.completed", paid, created=now))
    assert order(created.id).state == "pending" and balance(user.id) == 0
    first = invoice("in_1", sub_id, created.id, now)
    pay.deliver(event("invoice.paid", first, created=now))
    pay.deliver(event("invoice.paid", first, created=now))  # redelivered under a new event id
    got = order(created.id)
    assert (got.state, got.paid_minor) == ("paid", 5000)
    assert balance(user.id) == 6000 * C
    with session_scope(readonly=True) as s:
        lot = s.get(CreditLot, got.lot_id)
        assert (lot.source, lot.price_minor) == ("subscription", 5000)
        assert lot.expires_at == datetime.fromtimestamp(now + 30 * DAY, UTC)
    pay.deliver(event("customer.subscription.updated", sub_obj(sub_id, "active"), created=now + 1))
    assert subscription(sub_id).status == "active"

    pay.deliver(event("invoice.paid", invoice("in_2", sub_id, created.id, now + 30 * DAY),
                      created=now + 30 * DAY))
    assert balance(user.id) == 12000 * C
    assert transactions(created.id) == [("subscription", 6000 * C, "invoice:in_1"),
                                        ("subscription", 6000 * C, "invoice:in_2")]
    assert subscription(sub_id).current_period_end == \
        datetime.fromtimestamp(now + 60 * DAY, UTC)

    with session_scope() as s:
        from apiany.models import User

        token, _ = create_console_session(s, user=s.get(User, user.id))
    client = TestClient(create_api(), cookies={"apiany_session": token})
    r = client.post("/api/subscription/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["subscription"]["cancel_at_period_end"] is True
    assert pay.fake.subscriptions[sub_id]["cancel_at_period_end"] is True
    assert client.post("/api/subscription/cancel").status_code == 400

    pay.deliver(event("customer.subscription.deleted", sub_obj(sub_id, "canceled"),
                      created=now + 40 * DAY))
    late = event("customer.subscription.updated", sub_obj(sub_id, "active"),
                 created=now + 35 * DAY)
    assert pay.deliver(late)["status"] == "ignored"
    same_second = event("customer.subscription.updated", sub_obj(sub_id, "active"),
                        created=now + 40 * DAY)
    assert pay.deliver(same_second)["status"] == "ignored"
    got = subscription(sub_id)
    assert (got.status, got.last_event_created) == ("canceled", now + 40 * DAY)
    assert got.canceled_at is not None
    assert client.get("/api/subscription").json() == {"subscription": None}
    assert count(PaymentEvent, PaymentEvent.status == "ignored") == 2
    assert balance(user.id) == 12000 * C


def test_invoice_before_checkout_event_still_grants_once(pay):
    user = pay.user()
    created, paid = start_plan(pay, user)
    now = int(time.time())
    pay.deliver(event("invoice.paid", invoice("in_a", paid["subscription"], created.id, now)))
    pay.deliver(event("checkout.session.completed", paid))
    assert order(created.id).state == "paid"
    assert balance(user.id) == 6000 * C
    assert subscription(paid["subscription"]).status == "active"


def test_underpaid_invoice_is_flagged(pay):
    user = pay.user()
    created, paid = start_plan(pay, user)
    pay.deliver(event("checkout.session.completed", paid))
    pay.deliver(event("invoice.paid", invoice("in_x", paid["subscription"], created.id,
                                              int(time.time()), amount=10)))
    got = order(created.id)
    assert (got.state, got.needs_review) == ("pending", True)
    assert balance(user.id) == 0


def test_a_second_plan_is_refused_while_one_is_active(pay):
    import pytest

    from apiany.core.errors import InvalidRequest

    user = pay.user()
    created, paid = start_plan(pay, user)
    pay.deliver(event("invoice.paid", invoice("in_b", paid["subscription"], created.id,
                                              int(time.time()))))
    with pytest.raises(InvalidRequest, match="already have an active subscription"):
        pay.checkout(user, "monthly")
