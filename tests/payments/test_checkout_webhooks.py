"""Pack purchase through Checkout and the signed webhook: granted once, with
the purchase referencing the order and the lot carrying the pack's price."""

from __future__ import annotations

import json
import threading
import time

from fastapi.testclient import TestClient
from sqlmodel import select

from apiany.api.app import create_api
from apiany.core.db import session_scope
from apiany.models import CreditLot, OrderEvent, PaymentEvent
from tests.payments.conftest import C, Pay, balance, count, event, order, transactions


def test_pack_purchase_grants_once_with_priced_lot(pay):
    user = pay.user()
    created = pay.checkout(user)
    assert created.state == "pending" and created.checkout_url.startswith(pay.fake.base_url)
    session = pay.fake.sessions[created.provider_session_id]
    assert session["client_reference_id"] == str(created.id)
    assert session["metadata"] == {"order_id": str(created.id), "user_id": str(user.id),
                                   "pack": "starter"}
    key = f"apiany-checkout-{created.id}-{int(created.created_at.timestamp() * 1000)}"
    assert ("POST", "/v1/checkout/sessions", key) in pay.fake.requests
    paid = pay.fake.pay(created.provider_session_id)

    assert pay.deliver(event("checkout.session.completed", paid))["status"] == "applied"

    got = order(created.id)
    assert (got.state, got.paid_minor, got.provider_payment_id) == \
        ("paid", 500, paid["payment_intent"])
    assert balance(user.id) == 500 * C
    assert transactions(created.id) == [("purchase", 500 * C, f"order:{created.id}:purchase")]
    with session_scope(readonly=True) as s:
        lot = s.get(CreditLot, got.lot_id)
        assert (lot.amount, lot.remaining, lot.price_minor, lot.currency, lot.source) == \
            (500 * C, 500 * C, 500, "usd", "purchase")
        states = s.exec(select(OrderEvent.to_state, OrderEvent.cause_type)
                        .where(OrderEvent.order_id == created.id).order_by(OrderEvent.id)).all()
    assert [tuple(x) for x in states] == [("created", "user"), ("pending", "user"),
                                          ("paid", "event")]


def test_same_event_twice_grants_once(pay):
    user = pay.user()
    created = pay.checkout(user)
    evt = event("checkout.session.completed", pay.fake.pay(created.provider_session_id))
    assert pay.deliver(evt)["status"] == "applied"
    assert pay.deliver(evt)["status"] == "duplicate"
    assert balance(user.id) == 500 * C
    assert len(transactions(created.id)) == 1
    assert count(PaymentEvent, PaymentEvent.event_id == evt["id"]) == 1


def test_twenty_concurrent_deliveries_grant_once(pay_any):
    pay = pay_any
    user = pay.user()
    created = pay.checkout(user)
    evt = event("checkout.session.completed", pay.fake.pay(created.provider_session_id))
    barrier = threading.Barrier(20)
    codes: list[tuple[int, str]] = []

    def deliver():
        barrier.wait()
        r = pay.send(evt)
        codes.append((r.status_code, r.json().get("status")))

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == sorted([(200, "applied")] + [(200, "duplicate")] * 19)
    assert balance(user.id) == 500 * C
    assert len(transactions(created.id)) == 1
    assert order(created.id).state == "paid"


def test_crash_after_apply_then_retry_grants_once(pay, monkeypatch):
    from apiany.api import webhooks

    user = pay.user()
    created = pay.checkout(user)
    evt = event("checkout.session.completed", pay.fake.pay(created.provider_session_id))
    real = webhooks.acknowledge

    def crash(_result):
        raise RuntimeError("process died before answering")

    monkeypatch.setattr(webhooks, "acknowledge", crash)
    dying = Pay(pay.fake, TestClient(create_api(), raise_server_exceptions=False))
    assert dying.send(evt).status_code == 500  # applied and committed, then no answer
    assert balance(user.id) == 500 * C
    monkeypatch.setattr(webhooks, "acknowledge", real)
    assert pay.deliver(evt)["status"] == "duplicate"  # Stripe's retry
    assert balance(user.id) == 500 * C
    assert len(transactions(created.id)) == 1


def test_processing_error_rolls_back_and_retry_applies(pay, monkeypatch):
    from apiany.services.payments import orders

    user = pay.user()
    created = pay.checkout(user)
    evt = event("checkout.session.completed", pay.fake.pay(created.provider_session_id))
    real = orders.grant_credits

    def broken(*a, **kw):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(orders, "grant_credits", broken)
    assert pay.send(evt).status_code == 500
    assert count(PaymentEvent) == 0 and balance(user.id) == 0
    assert order(created.id).state == "pending"
    monkeypatch.setattr(orders, "grant_credits", real)
    assert pay.deliver(evt)["status"] == "applied"
    assert balance(user.id) == 500 * C


def test_bad_signatures_are_rejected_and_store_nothing(pay):
    user = pay.user()
    created = pay.checkout(user)
    evt = event("checkout.session.completed", pay.fake.pay(created.provider_session_id))
    tampered = json.dumps({**evt, "id": "evt_other"}).encode()
    cases = [pay.send(evt, body=tampered), pay.send(evt, secret="whsec_wrong"),
             pay.send(evt, timestamp=int(time.time()) - 3600), pay.send(evt, header=None),
             pay.send(evt, header="t=1,v1=deadbeef")]
    assert [r.status_code for r in cases] == [400] * 5
    assert all(r.json()["error"]["code"] == "invalid_signature" for r in cases)
    assert count(PaymentEvent) == 0
    assert balance(user.id) == 0 and order(created.id).state == "pending"


def test_unknown_event_type_is_stored_and_acknowledged(pay):
    evt = event("customer.created", {"id": "cus_1", "object": "customer"})
    assert pay.deliver(evt)["status"] == "ignored"
    assert pay.deliver(evt)["status"] == "duplicate"
    assert count(PaymentEvent, PaymentEvent.status == "ignored") == 1


def test_async_payment_success(pay):
    user = pay.user()
    created = pay.checkout(user)
    unpaid = pay.fake.pay(created.provider_session_id, payment_status="unpaid")
    pay.deliver(event("checkout.session.completed", unpaid))
    assert order(created.id).state == "pending" and balance(user.id) == 0
    pay.deliver(event("checkout.session.async_payment_succeeded",
                      {**unpaid, "payment_status": "paid"}))
    assert order(created.id).state == "paid" and balance(user.id) == 500 * C
    assert len(transactions(created.id)) == 1


def test_async_payment_failure(pay):
    user = pay.user()
    created = pay.checkout(user)
    unpaid = pay.fake.pay(created.provider_session_id, payment_status="unpaid")
    pay.deliver(event("checkout.session.completed", unpaid))
    pay.deliver(event("checkout.session.async_payment_failed", unpaid))
    assert order(created.id).state == "failed" and balance(user.id) == 0
    assert transactions(created.id) == []


def test_expired_session(pay):
    user = pay.user()
    created = pay.checkout(user)
    session = {**pay.fake.sessions[created.provider_session_id], "status": "expired"}
    pay.deliver(event("checkout.session.expired", session))
    assert order(created.id).state == "expired" and balance(user.id) == 0


def test_amount_or_currency_mismatch_is_flagged_not_granted(pay):
    user = pay.user()
    first, second = pay.checkout(user), pay.checkout(user)
    pay.deliver(event("checkout.session.completed",
                      {**pay.fake.pay(first.provider_session_id), "amount_total": 1}))
    pay.deliver(event("checkout.session.completed",
                      {**pay.fake.pay(second.provider_session_id), "currency": "eur"}))
    for created in (first, second):
        got = order(created.id)
        assert (got.state, got.needs_review, got.grant_transaction_id) == ("pending", True, None)
    assert "paid 1 usd but the order is 500 usd" in order(first.id).review_reason
    assert balance(user.id) == 0


def test_event_for_another_session_does_not_pay_the_order(pay):
    user = pay.user()
    created = pay.checkout(user)
    forged = {**pay.fake.pay(created.provider_session_id), "id": "cs_someone_else"}
    assert pay.deliver(event("checkout.session.completed", forged))["status"] == "ignored"
    assert balance(user.id) == 0
