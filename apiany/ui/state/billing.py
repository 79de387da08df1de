"""Billing pages: packs and plans, buying (Stripe Checkout), order history,
the current subscription, and the success page that only *watches* the
order (credits are granted by the webhook, never by this page)."""

from __future__ import annotations

import asyncio

import reflex as rx
from sqlmodel import select

from apiany.core.db import session_scope
from apiany.core.errors import APIAnyError
from apiany.models.catalog import CreditPack
from apiany.services.payments import cancel_my_subscription, start_checkout
from apiany.services.payments.orders import list_orders, user_order
from apiany.services.payments.subscriptions import current_subscription
from apiany.ui.state.auth import SessionState
from apiany.ui.state.formatting import credits_text, date_text

STATE_LABELS = {"created": "Created", "pending": "Waiting for payment", "paid": "Paid",
                "failed": "Payment failed", "expired": "Expired", "canceled": "Canceled",
                "refunded": "Refunded", "partially_refunded": "Partially refunded",
                "disputed": "Disputed", "dispute_won": "Dispute won", "dispute_lost": "Dispute lost"}
WAITING = ("created", "pending")
POLL_SECONDS = 1.5
POLL_LIMIT = 120  # three minutes, then the page offers a manual refresh


def money_text(minor: int, currency: str) -> str:
    return f"{minor // 100:,}.{minor % 100:02d} {currency.upper()}"


def _pack_row(p: CreditPack) -> dict[str, str]:
    per = f" per {p.interval}" if p.kind == "plan" else ""
    expiry = f"expire after {p.expires_days} days" if p.expires_days else "never expire"
    return {"code": p.code, "name": p.name, "kind": p.kind,
            "price": money_text(p.price_minor, p.currency) + per,
            "credits": credits_text(p.credits) + per, "note": f"Credits {expiry}."}


def _billing(user_id: int) -> tuple[list[dict], list[dict], dict[str, str]]:
    with session_scope(readonly=True) as session:
        packs = session.exec(select(CreditPack).where(CreditPack.active.is_(True))
                             .order_by(CreditPack.sort_order, CreditPack.id)).all()
        orders = list_orders(session, user_id=user_id, limit=50)
        sub = current_subscription(session, user_id)
        order_rows = [{"id": str(o.id), "pack": o.pack_code, "state": o.state,
                       "label": STATE_LABELS.get(o.state, o.state),
                       "amount": money_text(o.amount_minor, o.currency),
                       "created": date_text(o.created_at)} for o in orders]
        sub_info = {} if sub is None else {
            "status": sub.status, "renews": date_text(sub.current_period_end, "-"),
            "cancel_at_period_end": "yes" if sub.cancel_at_period_end else ""}
        return [_pack_row(p) for p in packs], order_rows, sub_info


def _order_state(user_id: int, order_id: int) -> str:
    with session_scope(readonly=True) as session:
        return user_order(session, user_id, order_id).state


class BillingState(rx.State):
    packs: list[dict[str, str]] = []
    orders: list[dict[str, str]] = []
    subscription: dict[str, str] = {}
    error: str = ""
    busy: str = ""  # the pack being checked out

    @rx.var
    def has_subscription(self) -> bool:
        return bool(self.subscription)

    @rx.event
    async def load(self):
        session = await self.get_state(SessionState)
        if not session.user_id:
            return
        self.error = ""
        self.busy = ""
        self.packs, self.orders, self.subscription = await asyncio.to_thread(
            _billing, session.user_id)

    @rx.event
    async def buy(self, code: str):
        """Create the order and its Checkout Session, then go to Stripe."""
        session = await self.get_state(SessionState)
        if not session.user_id:
            return
        self.busy, self.error = code, ""
        yield
        try:
            order = await asyncio.to_thread(start_checkout, user_id=session.user_id,
                                            pack_code=code, return_base=self.router.url.origin)
        except APIAnyError as exc:
            self.busy, self.error = "", exc.message
            return
        yield rx.redirect(order.checkout_url, is_external=False)

    @rx.event
    async def cancel_subscription(self):
        session = await self.get_state(SessionState)
        try:
            await asyncio.to_thread(cancel_my_subscription, user_id=session.user_id)
        except APIAnyError as exc:
            self.error = exc.message
            return
        self.packs, self.orders, self.subscription = await asyncio.to_thread(
            _billing, session.user_id)


class BillingSuccessState(rx.State):
    order_id: str = ""
    state: str = ""
    gave_up: bool = False

    @rx.var
    def label(self) -> str:
        return STATE_LABELS.get(self.state, "Checking the payment")

    @rx.var
    def waiting(self) -> bool:
        return self.state in ("", *WAITING)

    @rx.event
    async def load(self):
        self.order_id = str(self.router.url.query_parameters.get("order", ""))[:20]
        self.state, self.gave_up = "", False
        if self.order_id.isdigit():
            return BillingSuccessState.poll

    @rx.event(background=True)
    async def poll(self):
        """Refresh the order's state until the webhook has settled it."""
        async with self:
            session = await self.get_state(SessionState)
            user_id, order_id = session.user_id, int(self.order_id or 0)
        for _ in range(POLL_LIMIT):
            try:
                state = await asyncio.to_thread(_order_state, user_id, order_id)
            except APIAnyError:
                state = "unknown"
            async with self:
                self.state = state
            if state not in WAITING:
                return
            await asyncio.sleep(POLL_SECONDS)
        async with self:
            self.gave_up = True
