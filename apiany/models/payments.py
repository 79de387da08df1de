"""Payments: orders (one purchase of a pack or plan), their state changes,
every verified provider event (stored once, by its unique id) and
subscriptions. Amounts are integer minor units (cents) with a currency;
credits are ledger units."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from apiany.core.db import utcnow

ORDER_STATES = ("created", "pending", "paid", "failed", "expired", "canceled", "refunded",
                "partially_refunded", "disputed", "dispute_won", "dispute_lost")


def _big(default: int | None = 0, nullable: bool = False):
    return Field(default=default, sa_column=Column(BigInteger, nullable=nullable, default=default))


def _json(default_factory):
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("provider", "provider_session_id", name="uq_orders_provider_session"),
        UniqueConstraint("provider", "provider_reference", name="uq_orders_provider_reference"),
    )
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    pack_id: int | None = Field(default=None, foreign_key="credit_packs.id")
    pack_code: str = Field(max_length=50)
    kind: str = Field(default="pack", max_length=10)  # pack | plan
    provider: str = Field(default="stripe", max_length=20, index=True)
    state: str = Field(default="created", max_length=20, index=True)
    amount_minor: int = _big()
    currency: str = Field(default="usd", max_length=3)
    credits: int = _big()  # units granted on payment (per period for a plan)
    expires_days: int | None = None
    provider_session_id: str | None = Field(default=None, max_length=255)
    provider_payment_id: str | None = Field(default=None, max_length=255, index=True)
    provider_reference: str | None = Field(default=None, max_length=255)
    provider_subscription_id: str | None = Field(default=None, max_length=255, index=True)
    checkout_url: str | None = Field(default=None, max_length=2000)
    paid_minor: int = _big()
    refunded_minor: int = _big()
    refund_ids: list[str] = _json(list)  # refunds counted one by one (refund.created)
    refunds_listed_minor: int = _big()  # their sum
    clawed_back: int = _big()  # units taken back so far (refunds, lost disputes)
    disputed_minor: int = _big()
    dispute_hold_id: int | None = Field(default=None, foreign_key="holds.id")
    lot_id: int | None = Field(default=None, foreign_key="credit_lots.id")
    grant_transaction_id: int | None = Field(default=None, foreign_key="ledger_transactions.id")
    needs_review: bool = Field(default=False, index=True)
    review_reason: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    paid_at: datetime | None = None


class OrderEvent(SQLModel, table=True):
    """One change of an order (state or flag) and its cause: a provider
    event ("event", evt id), an admin ("admin", user id), a job or the user."""

    __tablename__ = "order_events"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    from_state: str = Field(max_length=20)
    to_state: str = Field(max_length=20)
    cause_type: str = Field(max_length=20)  # event | admin | job | user | system
    cause_id: str = Field(default="", max_length=255)
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)


class PaymentEvent(SQLModel, table=True):
    """A verified provider event, inserted once (unique id) in the same DB
    transaction as its effects."""

    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_payment_events_event"),)
    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(default="stripe", max_length=20)
    event_id: str = Field(max_length=255)
    type: str = Field(max_length=100, index=True)
    payload: dict[str, Any] = _json(dict)
    status: str = Field(default="applied", max_length=20)  # applied | ignored
    note: str = Field(default="", max_length=500)
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
    event_created: int = _big()  # the provider's timestamp (epoch seconds)
    received_at: datetime = Field(default_factory=utcnow)
    applied_at: datetime | None = None


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("provider", "provider_subscription_id",
                                       name="uq_subscriptions_provider_id"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="orders.id")
    pack_id: int | None = Field(default=None, foreign_key="credit_packs.id")
    provider: str = Field(default="stripe", max_length=20)
    provider_subscription_id: str = Field(max_length=255)
    status: str = Field(default="incomplete", max_length=20)
    cancel_at_period_end: bool = Field(default=False)
    current_period_end: datetime | None = None
    canceled_at: datetime | None = None
    last_event_created: int = _big()  # newest provider event applied (epoch seconds)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
