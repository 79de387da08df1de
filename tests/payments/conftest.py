"""Payments fixtures: a fake Stripe API on a free port (one per session),
STRIPE_* settings pointing at it, packs and a plan, a TestClient of the
real API, and helpers to build, sign and deliver Stripe events."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass

import pytest
import stripe
from fastapi.testclient import TestClient
from sqlmodel import func, select

from apiany.api.app import create_api
from apiany.core.db import session_scope
from apiany.core.money import UNITS_PER_CREDIT
from apiany.core.settings import reset_settings
from apiany.ledger import balance_of, verify
from apiany.models import CreditPack, LedgerTransaction, Order
from apiany.services import payments
from tests.factories import make_user
from tests.payments.fake_stripe import FakeStripe
from tests.servers import ServerThread

WEBHOOK_SECRET = "whsec_test_secret"
C = UNITS_PER_CREDIT
_event_ids = itertools.count(1)


@pytest.fixture(scope="session")
def fake_stripe_server():
    fake = FakeStripe()
    with ServerThread(fake.app) as server:
        fake.base_url = server.url
        yield fake


@pytest.fixture
def fake_stripe(fake_stripe_server, monkeypatch):
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_fake")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("STRIPE_API_BASE", fake_stripe_server.base_url)
    reset_settings()
    return fake_stripe_server


def add_packs() -> None:
    with session_scope() as session:
        session.add(CreditPack(code="starter", kind="pack", name="Starter", price_minor=500,
                               currency="usd", credits=500 * C, sort_order=1))
        session.add(CreditPack(code="monthly", kind="plan", name="Monthly", price_minor=5000,
                               currency="usd", credits=6000 * C, interval="month",
                               expires_days=31, sort_order=2))


@dataclass
class Pay:
    """A database, a fake Stripe and a webhook client, ready to buy."""
    fake: FakeStripe
    client: TestClient

    def user(self, credits: int = 0):
        return make_user(credits=credits)

    def checkout(self, user, pack: str = "starter") -> Order:
        return payments.start_checkout(user_id=user.id, pack_code=pack,
                                       return_base="http://testserver")

    def send(self, event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None,
             body: bytes | None = None, header: str | None | bool = True):
        payload = json.dumps(event)
        if header is True:
            header = stripe.WebhookSignature.generate_signature_header(
                payload, secret, timestamp=timestamp or int(time.time()))
        headers = {"content-type": "application/json"}
        if header:
            headers["stripe-signature"] = header
        return self.client.post("/webhooks/stripe", content=body or payload.encode(),
                                headers=headers)

    def deliver(self, event: dict) -> dict:
        r = self.send(event)
        assert r.status_code == 200, r.text
        return r.json()


def event(type_: str, obj: dict, *, id: str | None = None, created: int | None = None) -> dict:
    return {"id": id or f"evt_test_{next(_event_ids)}", "object": "event", "type": type_,
            "created": created or int(time.time()), "api_version": "2026-10-28.endive",
            "data": {"object": obj}}


def balance(user_id: int) -> int:
    with session_scope(readonly=True) as session:
        return balance_of(session, user_id).balance


def order(order_id: int) -> Order:
    with session_scope(readonly=True) as session:
        return session.get(Order, order_id)


def transactions(order_id: int) -> list[tuple[str, int, str]]:
    """(kind, user-side amount, idempotency key) of the order's ledger rows."""
    from apiany.models import LedgerAccount, LedgerEntry

    with session_scope(readonly=True) as session:
        rows = session.exec(
            select(LedgerTransaction.kind, LedgerEntry.amount, LedgerTransaction.idempotency_key)
            .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(LedgerTransaction.reference_type == "order",
                   LedgerTransaction.reference_id == str(order_id),
                   LedgerAccount.is_system.is_(False))
            .order_by(LedgerTransaction.id)).all()
        return [tuple(r) for r in rows]


def count(model, *where) -> int:
    with session_scope(readonly=True) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def assert_verified() -> None:
    with session_scope(readonly=True) as session:
        assert verify(session) == []


def _ready(fake: FakeStripe):
    """Packs in the database and a client of the real API; `ledger verify`
    must be clean after the test."""
    add_packs()
    with TestClient(create_api()) as client:
        yield Pay(fake, client)
    assert_verified()


@pytest.fixture
def pay(db_url, fake_stripe):
    yield from _ready(fake_stripe)


@pytest.fixture
def pay_any(any_db_url, fake_stripe):
    """`pay` on SQLite and on PostgreSQL."""
    yield from _ready(fake_stripe)
