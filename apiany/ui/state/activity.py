"""The dashboard's activity panels: recent requests, recent failures and the
first-run checklist, for SessionState.user_id only."""

from __future__ import annotations

import asyncio

import reflex as rx

from apiany.core.db import session_scope
from apiany.core.money import UNITS_PER_CREDIT
from apiany.core.settings import get_settings
from apiany.services.keys import list_keys
from apiany.services.ledger_history import LedgerFilters, list_ledger
from apiany.services.usage import UsageFilters, list_usage
from apiany.services.usage_stats import daily_usage, models_used
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
                "has_key": bool(names), "has_call": calls > 0, "has_purchase": purchases > 0,
                "models": models_used(session, user_id=user_id)}


def load_chart(user_id: int, model: str | None) -> list[dict]:
    """Chart points; credits as a float for plotting only (the figures elsewhere are exact text)."""
    with session_scope() as session:
        rows = daily_usage(session, user_id=user_id, model=model or None)
    return [{"day": f"{r['day']:%m-%d}", "requests": r["requests"], "credits": r["credits"] / UNITS_PER_CREDIT}
            for r in rows]


class ActivityState(rx.State):
    loaded_for: int = 0
    recent: list[dict[str, str]] = []
    failures: list[dict[str, str]] = []
    has_key: bool = False
    has_call: bool = False
    has_purchase: bool = False
    first_call: str = ""
    models: list[str] = []
    chart_model: str = ""
    chart: list[dict[str, str | int | float]] = []

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
        self.models, self.chart_model = info["models"], ""
        self.chart = await asyncio.to_thread(load_chart, user_id, None)
        self.loaded_for = user_id

    @rx.event
    async def set_chart_model(self, model: str):
        self.chart_model = model if model in self.models else ""
        user_id = (await self.get_state(SessionState)).user_id
        self.chart = await asyncio.to_thread(load_chart, user_id, self.chart_model)
