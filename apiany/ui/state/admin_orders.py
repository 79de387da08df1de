"""Admin orders: the latest orders (filter by state), one order's timeline
and provider events, full refunds through Stripe, and manual payments. Every
handler re-checks the admin role on the server."""

from __future__ import annotations

import asyncio

import reflex as rx
from sqlmodel import select

from apiany.core.db import session_scope
from apiany.core.errors import APIAnyError, PermissionDenied
from apiany.models.payments import Order, PaymentEvent
from apiany.models.users import User
from apiany.services.payments import admin_refund, record_manual_payment
from apiany.services.payments.orders import list_orders, order_timeline
from apiany.ui.state.auth import SessionState
from apiany.ui.state.billing import STATE_LABELS, money_text
from apiany.ui.state.formatting import utc_text

ORDER_STATES = ["", *STATE_LABELS]


def _admin(user_id: int) -> User:
    with session_scope(readonly=True) as session:
        user = session.get(User, user_id) if user_id else None
    if user is None or user.role != "admin" or not user.is_active:
        raise PermissionDenied("This action needs the admin role.")
    return user


def _orders(user_id: int, state: str) -> list[dict[str, str]]:
    _admin(user_id)
    with session_scope(readonly=True) as session:
        rows = list_orders(session, state=state or None, limit=100)
        emails = dict(session.exec(select(User.id, User.email).where(
            User.id.in_({o.user_id for o in rows} or {0}))).all())
        return [{"id": str(o.id), "user": emails.get(o.user_id, str(o.user_id)),
                 "pack": o.pack_code, "provider": o.provider, "state": o.state,
                 "label": STATE_LABELS.get(o.state, o.state),
                 "amount": money_text(o.amount_minor, o.currency),
                 "review": o.review_reason if o.needs_review else "",
                 "refundable": "yes" if o.provider == "stripe" and o.state in (
                     "paid", "partially_refunded", "dispute_won") else "",
                 "created": utc_text(o.created_at)} for o in rows]


def _detail(user_id: int, order_id: int) -> list[dict[str, str]]:
    _admin(user_id)
    with session_scope(readonly=True) as session:
        if session.get(Order, order_id) is None:
            return []
        rows = [{"time": utc_text(e.created_at), "what": f"{e.from_state} -> {e.to_state}",
                 "cause": f"{e.cause_type} {e.cause_id}".strip(), "note": e.note}
                for e in order_timeline(session, order_id)]
        events = session.exec(select(PaymentEvent).where(PaymentEvent.order_id == order_id)
                              .order_by(PaymentEvent.id)).all()
        rows += [{"time": utc_text(e.applied_at or e.received_at), "what": e.type,
                  "cause": f"{e.provider} {e.event_id}", "note": f"{e.status} {e.note}".strip()}
                 for e in events]
        return sorted(rows, key=lambda r: r["time"])


class AdminOrdersState(rx.State):
    orders: list[dict[str, str]] = []
    state_filter: str = ""
    shown_id: int = 0
    timeline: list[dict[str, str]] = []
    message: str = ""
    error: str = ""

    async def _uid(self) -> int:
        return (await self.get_state(SessionState)).user_id

    @rx.event
    async def load(self):
        self.message = self.error = ""
        try:
            self.orders = await asyncio.to_thread(_orders, await self._uid(), self.state_filter)
        except APIAnyError as exc:
            self.orders, self.error = [], exc.message

    @rx.event
    async def filter_state(self, value: str):
        self.state_filter = value if value in STATE_LABELS else ""
        return AdminOrdersState.load

    @rx.event
    async def show(self, order_id: str):
        self.shown_id = int(order_id)
        self.timeline = await asyncio.to_thread(_detail, await self._uid(), self.shown_id)

    @rx.event
    async def refund(self, order_id: str):
        try:
            admin = await asyncio.to_thread(_admin, await self._uid())
            got = await asyncio.to_thread(admin_refund, admin=admin, order_id=int(order_id))
            self.message = (f"Refund {got['refund_id']} of {got['amount_minor']} requested; "
                            "credits are taken back when Stripe confirms it.")
            self.error = ""
        except APIAnyError as exc:
            self.error = exc.message

    @rx.event
    async def record_manual(self, form: dict):
        try:
            admin = await asyncio.to_thread(_admin, await self._uid())
            got = await asyncio.to_thread(
                record_manual_payment, admin=admin, email=str(form.get("email", "")).strip(),
                pack_code=str(form.get("pack", "")).strip(),
                amount_minor=int(str(form.get("amount_minor") or "0")),
                currency=str(form.get("currency") or "usd"),
                reference=str(form.get("reference", "")), note=str(form.get("note", "")))
        except (APIAnyError, ValueError) as exc:
            self.error = getattr(exc, "message", str(exc))
            return
        self.error = ""
        self.message = (f"Manual payment {got.status}: order #{got.order_id}." if got.order_id
                        else f"Manual payment {got.status}.")
        return AdminOrdersState.load
