"""Refunds and disputes take back the purchase's credits: in proportion to
the refunded amount, down to a bounded negative balance (account flagged,
spending blocked with 402 until it is positive again)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from apiany.api.app import create_api
from apiany.core.db import session_scope
from apiany.core.errors import InsufficientCredits
from apiany.core.settings import reset_settings
from apiany.ledger import balance_of, debit_credits, reserve, user_account
from apiany.models import CreditLot, Hold
from apiany.services.accounts import create_console_session
from tests.payments.conftest import C, balance, event, order, transactions


def bought(pay, user, spend_credits: int = 0):
    """A paid Starter order (500 credits), `spend_credits` of them consumed."""
    created = pay.checkout(user)
    paid = pay.fake.pay(created.provider_session_id)
    pay.deliver(event("checkout.session.completed", paid))
    if spend_credits:
        with session_scope() as s:
            debit_credits(s, user_id=user.id, amount=spend_credits * C, kind="consumption",
                          idempotency_key=f"spend:{created.id}")
    return created, paid


def charge(paid: dict, refunded: int, **extra) -> dict:
    return {"id": "ch_" + paid["payment_intent"], "object": "charge", "amount": 500,
            "amount_refunded": refunded, "currency": "usd", "refunded": refunded >= 500,
            "payment_intent": paid["payment_intent"], **extra}


def account(user_id: int):
    with session_scope() as s:
        return user_account(s, user_id)


def assert_spending_blocked(user_id: int) -> None:
    with pytest.raises(InsufficientCredits) as err, session_scope() as s:
        reserve(s, user_id=user_id, amount=1, idempotency_key=f"probe:{user_id}")
    assert err.value.status_code == 402 and err.value.headers["x-should-retry"] == "false"


def test_full_refund_after_partial_spend_goes_negative_and_blocks(pay):
    user = pay.user()
    created, paid = bought(pay, user, spend_credits=200)
    assert balance(user.id) == 300 * C
    pay.deliver(event("charge.refunded", charge(paid, 500)))
    got = order(created.id)
    assert (got.state, got.refunded_minor, got.clawed_back) == ("refunded", 500, 500 * C)
    assert balance(user.id) == -200 * C
    assert transactions(created.id) == [
        ("purchase", 500 * C, f"order:{created.id}:purchase"),
        ("clawback", -500 * C, f"order:{created.id}:clawback:{500 * C}")]
    assert account(user.id).flagged is True
    assert_spending_blocked(user.id)


def test_partial_then_full_refund_with_both_event_kinds_counts_each_once(pay):
    user = pay.user()
    created, paid = bought(pay, user, spend_credits=100)
    refund1 = {"id": "re_1", "object": "refund", "amount": 200, "status": "succeeded",
               "payment_intent": paid["payment_intent"]}
    pay.deliver(event("refund.created", refund1))
    pay.deliver(event("charge.refunded", charge(paid, 200)))  # the same refund, cumulative
    got = order(created.id)
    assert (got.state, got.refunded_minor, got.clawed_back) == ("partially_refunded", 200, 200 * C)
    assert balance(user.id) == 200 * C  # 500 - 100 spent - 200 clawed back
    pay.deliver(event("charge.refunded", charge(paid, 500)))  # the rest, charge event first
    pay.deliver(event("refund.created", {**refund1, "id": "re_2", "amount": 300}))
    got = order(created.id)
    assert (got.state, got.refunded_minor, got.clawed_back) == ("refunded", 500, 500 * C)
    assert balance(user.id) == -100 * C
    assert [kind for kind, _, _ in transactions(created.id)] == ["purchase", "clawback",
                                                                  "clawback"]
    assert_spending_blocked(user.id)


def test_clawback_is_bounded_by_the_overdraft_limit(pay, monkeypatch):
    monkeypatch.setenv("APIANY_CLAWBACK_LIMIT_CREDITS", "100")
    reset_settings()
    user = pay.user()
    created, paid = bought(pay, user, spend_credits=450)
    pay.deliver(event("charge.refunded", charge(paid, 500)))
    got = order(created.id)
    assert balance(user.id) == -100 * C
    assert (got.state, got.clawed_back, got.needs_review) == ("refunded", 150 * C, True)
    assert "could only claw back 150000000 of 500000000 units" in got.review_reason


def test_new_purchase_pays_the_debt_first(pay):
    user = pay.user()
    _, paid = bought(pay, user, spend_credits=400)
    pay.deliver(event("charge.refunded", charge(paid, 500)))
    assert balance(user.id) == -400 * C
    bought(pay, user)
    assert balance(user.id) == 100 * C
    with session_scope() as s:
        assert balance_of(s, user.id).available == 100 * C


def test_admin_refund_calls_stripe_and_claws_back_only_on_the_event(pay):
    admin = pay.user()
    with session_scope() as s:
        from apiany.models import User

        row = s.get(User, admin.id)
        row.role = "admin"
        token, _ = create_console_session(s, user=row)
    user = pay.user()
    created, paid = bought(pay, user)
    client = TestClient(create_api(), cookies={"apiany_session": token})
    r = client.post(f"/api/admin/orders/{created.id}/refund", json={"amount_minor": 100})
    assert r.status_code == 200, r.text
    assert r.json()["amount_minor"] == 100
    refund = pay.fake.refunds[-1]
    assert (refund["amount"], refund["payment_intent"]) == (100, paid["payment_intent"])
    stamp = int(created.created_at.timestamp() * 1000)
    assert ("POST", "/v1/refunds", f"apiany-refund-{created.id}-{stamp}-0-100") \
        in pay.fake.requests
    assert balance(user.id) == 500 * C and order(created.id).state == "paid"
    pay.deliver(event("refund.created", refund))
    assert balance(user.id) == 400 * C and order(created.id).state == "partially_refunded"
    # a normal user cannot refund
    other_token = None
    with session_scope() as s:
        from apiany.models import User

        other_token, _ = create_console_session(s, user=s.get(User, user.id))
    denied = TestClient(create_api(), cookies={"apiany_session": other_token})
    assert denied.post(f"/api/admin/orders/{created.id}/refund", json={}).status_code == 403


def dispute(paid: dict, status: str = "needs_response") -> dict:
    return {"id": "dp_1", "object": "dispute", "amount": 500, "currency": "usd",
            "status": status, "charge": "ch_1", "payment_intent": paid["payment_intent"]}


def test_dispute_won_freezes_then_restores(pay):
    user = pay.user()
    created, paid = bought(pay, user, spend_credits=100)
    pay.deliver(event("charge.dispute.created", dispute(paid)))
    got = order(created.id)
    assert got.state == "disputed"
    with session_scope() as s:
        view = balance_of(s, user.id)
        assert (view.balance, view.held, view.available) == (400 * C, 400 * C, 0)
        assert s.get(CreditLot, got.lot_id).frozen == 400 * C
        assert s.get(Hold, got.dispute_hold_id).reference_type == "dispute"
    assert_spending_blocked(user.id)
    pay.deliver(event("charge.dispute.closed", dispute(paid, "won")))
    got = order(created.id)
    assert (got.state, got.clawed_back, got.dispute_hold_id) == ("dispute_won", 0, None)
    with session_scope() as s:
        view = balance_of(s, user.id)
        assert (view.balance, view.held, view.available) == (400 * C, 0, 400 * C)
        assert s.get(CreditLot, got.lot_id).frozen == 0
    assert [k for k, _, _ in transactions(created.id)] == ["purchase"]


def test_dispute_lost_claws_back(pay):
    user = pay.user()
    created, paid = bought(pay, user, spend_credits=100)
    pay.deliver(event("charge.dispute.created", dispute(paid)))
    pay.deliver(event("charge.dispute.updated", dispute(paid, "under_review")))
    pay.deliver(event("charge.dispute.closed", dispute(paid, "lost")))
    got = order(created.id)
    assert (got.state, got.clawed_back) == ("dispute_lost", 500 * C)
    with session_scope() as s:
        view = balance_of(s, user.id)
        assert (view.balance, view.held) == (-100 * C, 0)
    assert [k for k, _, _ in transactions(created.id)] == ["purchase", "clawback"]
    assert account(user.id).flagged is True
    assert_spending_blocked(user.id)
