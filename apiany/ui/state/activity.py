"""The dashboard's activity panels: recent requests, recent failures and the
first-run checklist, for SessionState.user_id only."""

from __future__ import annotations

import asyncio

import reflex as rx

from apiany.core.db import session_scope
from apiany.core.settings import get_settings
from apiany.services.keys import list_keys
from apiany.services.ledger_history import LedgerFilters, list_ledger
from apiany.services.usage import UsageFilters, list_usage
from apiany.ui.state.auth import SessionState
from apiany.ui.state.snippets import examples
from apiany.ui.state.usage import usage_row

RECENT = 5


def load_activity(user_id: int) -> dict:
    with session_scope() as session:
        names = {k.id: k.name for k in list_keys(session, user_id=user_id)}
        recent, calls = list_usage(session, user_id=user_id, limit=RECENT)
        failures, _ = list_usage(session, user_id=user_id, filters=UsageFilters(status="error"), limit=RECENT)
        _, purchases = list_ledger(session, user_id=user_id, filters=LedgerFilters(kind="purchase"), limit=1)
        return {"recent": [usage_row(r, names) for r in recent], "failures": [usage_row(r, names) for r in failures],
                "has_key": bool(names), "has_call": calls > 0, "has_purchase": purchases > 0}


class ActivityState(rx.State):
    loaded_for: int = 0
    recent: list[dict[str, str]] = []
    failures: list[dict[str, str]] = []
    has_key: bool = False
    has_call: bool = False
    has_purchase: bool = False
    first_call: str = ""

    @rx.var
    def checklist_done(self) -> bool:
        return self.has_key and self.has_call and self.has_purchase

    @rx.event
    async def load(self):
        user_id = (await self.get_state(SessionState)).user_id
        if not user_id:
            return
        info = await asyncio.to_thread(load_activity, user_id)
        self.recent, self.failures = info["recent"], info["failures"]
        self.has_key, self.has_call, self.has_purchase = info["has_key"], info["has_call"], info["has_purchase"]
        self.first_call = examples("chat", "sandbox-chat", get_settings().base_url)["curl"]
        self.loaded_for = user_id
