"""The billing and admin-orders page data (plain functions the states call)."""

from __future__ import annotations

import pytest

from apiany.core.db import session_scope
from apiany.core.errors import PermissionDenied
from apiany.models import User
from apiany.ui.state.admin_orders import _detail, _orders
from apiany.ui.state.billing import _billing, _order_state, money_text
from tests.payments.conftest import event


def test_billing_page_data_and_success_state(pay):
    user = pay.user()
    created = pay.checkout(user)
    packs, orders, sub = _billing(user.id)
    assert [(p["code"], p["price"], p["credits"]) for p in packs] == [
        ("starter", "5.00 USD", "500 credits"),
        ("monthly", "50.00 USD per month", "6,000 credits per month")]
    assert [(o["id"], o["state"], o["label"], o["amount"]) for o in orders] == \
        [(str(created.id), "pending", "Waiting for payment", "5.00 USD")]
    assert sub == {}
    assert _order_state(user.id, created.id) == "pending"
    pay.deliver(event("checkout.session.completed", pay.fake.pay(created.provider_session_id)))
    assert _order_state(user.id, created.id) == "paid"
    other = pay.user()
    with pytest.raises(Exception, match="not found"):
        _order_state(other.id, created.id)
    assert money_text(123456, "eur") == "1,234.56 EUR"


def test_admin_orders_data_is_admin_only(pay):
    admin, user = pay.user(), pay.user()
    with session_scope() as s:
        s.get(User, admin.id).role = "admin"
    created = pay.checkout(user)
    pay.deliver(event("checkout.session.completed", pay.fake.pay(created.provider_session_id)))
    rows = _orders(admin.id, "")
    assert [(r["id"], r["user"], r["state"], r["refundable"]) for r in rows] == \
        [(str(created.id), user.email, "paid", "yes")]
    assert _orders(admin.id, "refunded") == []
    assert [r["what"] for r in _detail(admin.id, created.id)][:3] == \
        [" -> created", "created -> pending", "pending -> paid"]
    with pytest.raises(PermissionDenied):
        _orders(user.id, "")
