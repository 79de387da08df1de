"""Buy a credit pack in Chromium: /billing -> (fake) Stripe Checkout -> back
to /billing/success, which waits; the signed webhook arrives; the order is
paid and the dashboard balance includes the pack."""

from __future__ import annotations

import json
import re
import time
import uuid

import httpx
import pytest
import stripe
from playwright.sync_api import expect

from tests.e2e.conftest import STRIPE_E2E_WEBHOOK_SECRET

pytestmark = pytest.mark.e2e


def _signed_event(session: dict) -> tuple[bytes, str]:
    payload = json.dumps({"id": f"evt_e2e_{uuid.uuid4().hex[:12]}", "object": "event",
                          "type": "checkout.session.completed", "created": int(time.time()),
                          "data": {"object": session}})
    return payload.encode(), stripe.WebhookSignature.generate_signature_header(
        payload, STRIPE_E2E_WEBHOOK_SECRET)


def test_buy_pack_through_checkout_and_webhook(live_app, fake_stripe, browser_page):
    page = browser_page
    page.goto(live_app.url("/signup"))
    page.get_by_label("Email", exact=True).fill(f"buyer-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/dashboard/?$"))
    expect(page.get_by_label("Balance")).to_have_text("100 credits")

    page.goto(live_app.url("/billing"))
    expect(page.get_by_text("free credits, no card required", exact=False)).to_be_visible()
    page.get_by_role("button", name="Buy Starter").click()
    # the fake's hosted checkout "pays" and redirects back to our success page
    expect(page).to_have_url(re.compile(r"/billing/success/?\?order=\d+&session_id=cs_test_"))
    expect(page.get_by_test_id("order-state")).to_have_text("Waiting for payment")

    session_id = re.search(r"session_id=(cs_test_\d+)", page.url).group(1)
    payload, signature = _signed_event(fake_stripe.sessions[session_id])
    bad = httpx.post(live_app.url("/webhooks/stripe"), content=payload + b" ",
                     headers={"stripe-signature": signature})
    assert bad.status_code == 400
    for expected in ("applied", "duplicate"):
        r = httpx.post(live_app.url("/webhooks/stripe"), content=payload,
                       headers={"stripe-signature": signature, "content-type": "application/json"})
        assert (r.status_code, r.json()["status"]) == (200, expected)

    expect(page.get_by_test_id("order-state")).to_have_text("Paid")
    page.get_by_role("link", name="Go to dashboard").click()
    expect(page.get_by_label("Balance")).to_have_text("600 credits")
    page.goto(live_app.url("/billing"))
    expect(page.get_by_role("table", name="Orders").get_by_text("Paid")).to_be_visible()
