"""The billing API (scoped per user, admin routes checked on the server), the
manual provider and the reconcile job."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from apiany.api.app import create_api
from apiany.core.db import session_scope, utcnow
from apiany.models import AuditLog, Order, User
from apiany.services.accounts import create_console_session
from apiany.services.payments import reconcile_orders
from tests.payments.conftest import C, balance, count, event, order, transactions


def client_for(user, admin: bool = False) -> TestClient:
    with session_scope() as s:
        row = s.get(User, user.id)
        if admin:
            row.role = "admin"
        token, _ = create_console_session(s, user=row)
    return TestClient(create_api(), cookies={"apiany_session": token})


def test_checkout_api_and_orders_are_scoped(pay):
    alice, bob = pay.user(), pay.user()
    a, b = client_for(alice), client_for(bob)
    packs = a.get("/api/packs").json()["data"]
    assert [(p["code"], p["kind"], p["price_minor"]) for p in packs] == \
        [("starter", "pack", 500), ("monthly", "plan", 5000)]
    r = a.post("/api/checkout", json={"pack": "starter"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["url"].startswith(pay.fake.base_url + "/checkout/cs_test_")
    session = pay.fake.sessions[body["url"].rsplit("/", 1)[1]]
    assert session["success_url"] == \
        f"http://testserver/billing/success?order={body['order']['id']}" \
        "&session_id={CHECKOUT_SESSION_ID}"
    order_id = body["order"]["id"]
    assert [o["id"] for o in a.get("/api/orders").json()["data"]] == [order_id]
    assert b.get("/api/orders").json()["data"] == []
    assert b.get(f"/api/orders/{order_id}").status_code == 404
    assert a.get(f"/api/orders/{order_id}").json()["state"] == "pending"
    assert a.post("/api/checkout", json={"pack": "nope"}).status_code == 404
    assert a.get("/api/admin/orders").status_code == 403
    assert TestClient(create_api()).post("/api/checkout", json={"pack": "starter"}).status_code \
        == 401


def test_admin_order_detail_has_the_timeline(pay):
    admin, user = pay.user(), pay.user()
    created = pay.checkout(user)
    pay.deliver(event("checkout.session.completed", pay.fake.pay(created.provider_session_id)))
    c = client_for(admin, admin=True)
    rows = c.get("/api/admin/orders").json()["data"]
    assert [(o["id"], o["user_id"], o["state"]) for o in rows] == [(created.id, user.id, "paid")]
    detail = c.get(f"/api/admin/orders/{created.id}").json()
    assert [e["to_state"] for e in detail["timeline"]] == ["created", "pending", "paid"]
    assert [(e["type"], e["status"]) for e in detail["provider_events"]] == \
        [("checkout.session.completed", "applied")]


def test_manual_payment_grants_once_per_reference(pay):
    admin, user = pay.user(), pay.user()
    c = client_for(admin, admin=True)
    data = {"email": user.email, "pack": "starter", "amount_minor": 500, "currency": "usd",
            "reference": "BANK-2026-001", "note": "wire received"}
    first = c.post("/api/admin/manual-payments", json=data)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "applied"
    assert c.post("/api/admin/manual-payments", json=data).json()["status"] == "duplicate"
    order_id = first.json()["order_id"]
    got = order(order_id)
    assert (got.provider, got.state, got.provider_reference) == ("manual", "paid", "BANK-2026-001")
    assert balance(user.id) == 500 * C
    assert transactions(order_id) == [("purchase", 500 * C, f"order:{order_id}:purchase")]
    assert count(AuditLog, AuditLog.action == "order.paid",
                 AuditLog.actor == f"admin:{admin.id}") == 1
    assert client_for(user).post("/api/admin/manual-payments", json=data).status_code == 403


def _age(order_id: int, minutes: int) -> None:
    with session_scope() as s:
        s.get(Order, order_id).updated_at = utcnow() - timedelta(minutes=minutes)


def test_reconcile_applies_what_stripe_knows(pay):
    user = pay.user()
    paid_order, expired_order, open_order, fresh = (pay.checkout(user) for _ in range(4))
    pay.fake.pay(paid_order.provider_session_id)
    pay.fake.pay(fresh.provider_session_id)
    pay.fake.sessions[expired_order.provider_session_id]["status"] = "expired"
    for o in (paid_order, expired_order, open_order):
        _age(o.id, 60)
    assert reconcile_orders() == 2
    assert [order(o.id).state for o in (paid_order, expired_order, open_order, fresh)] == \
        ["paid", "expired", "pending", "pending"]
    assert balance(user.id) == 500 * C
    # the late webhook for the same payment changes nothing
    pay.deliver(event("checkout.session.completed",
                      pay.fake.sessions[paid_order.provider_session_id]))
    assert balance(user.id) == 500 * C and len(transactions(paid_order.id)) == 1
    assert reconcile_orders() == 0
