"""The dashboard's numbers: the signed-in user's balance view, as display text."""

from __future__ import annotations

import asyncio

import reflex as rx

from apiany.core.db import session_scope
from apiany.ledger import BalanceView, balance_of
from apiany.ui.state.auth import SessionState
from apiany.ui.state.formatting import credits_text, date_text


def _balance(user_id: int) -> BalanceView:
    with session_scope() as session:
        return balance_of(session, user_id)


class DashboardState(rx.State):
    """`loaded_for` is the user id the figures belong to: the page shows them only
    while it equals SessionState.user_id, so a tab that changes user never
    flashes the previous user's numbers before `load` finishes."""

    loaded_for: int = 0
    balance: str = ""
    available: str = ""
    held: str = ""
    free: str = ""
    purchased: str = ""
    expiring_soon: str = ""
    has_expiring: bool = False
    next_expiry: str = ""

    @rx.event
    async def load(self):
        """on_load after SessionState.require_login (events run in order)."""
        session = await self.get_state(SessionState)
        if not session.user_id:
            self.loaded_for = 0
            return
        view = await asyncio.to_thread(_balance, session.user_id)
        self.balance, self.available = credits_text(view.balance), credits_text(view.available)
        self.held, self.free = credits_text(view.held), credits_text(view.free)
        self.purchased, self.expiring_soon = credits_text(view.purchased), credits_text(view.expiring_soon)
        self.has_expiring = view.expiring_soon > 0
        self.next_expiry = date_text(view.next_expiry, empty="never")
        self.loaded_for = session.user_id
