"""Billing API: packs, checkout, the caller's orders and subscription; admin
orders, refunds and manual payments. Every query is scoped to the caller
unless the route is an admin route (checked on the server)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import select

from apiany.api.deps import CurrentAdmin, CurrentUser
from apiany.core.db import session_scope
from apiany.core.errors import NotFound
from apiany.models.catalog import CreditPack
from apiany.models.payments import Order, PaymentEvent
from apiany.services import payments
from apiany.services.payments.orders import list_orders, order_timeline, user_order
from apiany.services.payments.subscriptions import current_subscription

router = APIRouter(prefix="/api", tags=["billing"])

PUBLIC_ORDER_FIELDS = ("id", "pack_code", "kind", "provider", "state", "amount_minor", "currency",
                       "credits", "paid_minor", "refunded_minor", "clawed_back", "needs_review",
                       "created_at", "updated_at", "paid_at", "checkout_url")


def order_public(order: Order) -> dict:
    return {name: getattr(order, name) for name in PUBLIC_ORDER_FIELDS}


class CheckoutIn(BaseModel):
    pack: str = Field(min_length=1, max_length=50)


class RefundIn(BaseModel):
    amount_minor: int | None = Field(default=None, gt=0)


class ManualPaymentIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    pack: str = Field(min_length=1, max_length=50)
    amount_minor: int = Field(gt=0)
    currency: str = Field(default="usd", min_length=3, max_length=3)
    reference: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=500)


@router.get("/packs")
def get_packs() -> dict:
    with session_scope(readonly=True) as session:
        packs = session.exec(select(CreditPack).where(CreditPack.active.is_(True))
                             .order_by(CreditPack.sort_order, CreditPack.id)).all()
        return {"data": [{"code": p.code, "kind": p.kind, "name": p.name,
                          "price_minor": p.price_minor, "currency": p.currency,
                          "credits": p.credits, "expires_days": p.expires_days,
                          "interval": p.interval} for p in packs]}


@router.post("/checkout", status_code=201)
def post_checkout(data: CheckoutIn, user: CurrentUser, request: Request) -> dict:
    """Creates an order and a Stripe Checkout Session; send the buyer to `url`."""
    base = str(request.base_url).rstrip("/")
    order = payments.start_checkout(user_id=user.id, pack_code=data.pack, return_base=base)
    return {"order": order_public(order), "url": order.checkout_url}


@router.get("/orders")
def get_orders(user: CurrentUser, limit: Annotated[int, Query(ge=1, le=200)] = 50,
               offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    with session_scope(readonly=True) as session:
        rows = list_orders(session, user_id=user.id, limit=limit, offset=offset)
        return {"data": [order_public(o) for o in rows]}


@router.get("/orders/{order_id}")
def get_order(order_id: int, user: CurrentUser) -> dict:
    with session_scope(readonly=True) as session:
        return order_public(user_order(session, user.id, order_id))


@router.get("/subscription")
def get_subscription(user: CurrentUser) -> dict:
    with session_scope(readonly=True) as session:
        sub = current_subscription(session, user.id)
        return {"subscription": sub.model_dump(exclude={"user_id"}) if sub else None}


@router.post("/subscription/cancel")
def post_cancel_subscription(user: CurrentUser) -> dict:
    sub = payments.cancel_my_subscription(user_id=user.id)
    return {"subscription": sub.model_dump(exclude={"user_id"})}


@router.get("/admin/orders")
def admin_orders(admin: CurrentAdmin, state: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100,
                 offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    with session_scope(readonly=True) as session:
        rows = list_orders(session, state=state, limit=limit, offset=offset)
        return {"data": [{**order_public(o), "user_id": o.user_id,
                          "review_reason": o.review_reason} for o in rows]}


@router.get("/admin/orders/{order_id}")
def admin_order(order_id: int, admin: CurrentAdmin) -> dict:
    with session_scope(readonly=True) as session:
        order = session.get(Order, order_id)
        if order is None:
            raise NotFound(f"order {order_id} not found")
        events = session.exec(select(PaymentEvent).where(PaymentEvent.order_id == order_id)
                              .order_by(PaymentEvent.id)).all()
        return {"order": order.model_dump(),
                "timeline": [e.model_dump() for e in order_timeline(session, order_id)],
                "provider_events": [{"event_id": e.event_id, "type": e.type, "status": e.status,
                                     "note": e.note, "applied_at": e.applied_at}
                                    for e in events]}


@router.post("/admin/orders/{order_id}/refund")
def admin_refund(order_id: int, data: RefundIn, admin: CurrentAdmin) -> dict:
    return payments.admin_refund(admin=admin, order_id=order_id, amount_minor=data.amount_minor)


@router.post("/admin/manual-payments", status_code=201)
def admin_manual_payment(data: ManualPaymentIn, admin: CurrentAdmin) -> dict:
    got = payments.record_manual_payment(admin=admin, email=data.email, pack_code=data.pack,
                                         amount_minor=data.amount_minor, currency=data.currency,
                                         reference=data.reference, note=data.note)
    return {"order_id": got.order_id, "status": got.status, "event_id": got.event_id}
