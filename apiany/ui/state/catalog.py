"""The model catalog: public models with prices in plain words, a search and
capability filter, and ready-to-run examples for the user's base URL."""

from __future__ import annotations

import asyncio

import reflex as rx
from sqlmodel import select

from apiany.core.db import session_scope
from apiany.core.money import format_credits
from apiany.core.settings import get_settings
from apiany.gateway.cache import load_catalog
from apiany.gateway.routing import has_route
from apiany.models import ApiModel
from apiany.ui.state.snippets import examples

TOKEN_UNIT = {"speech": "characters"}  # what "per 1M" counts, per request type


def _amount(units: int) -> str:
    return f"{format_credits(units)} {'credit' if units == 1_000_000 else 'credits'}"


def price_phrases(model: ApiModel) -> list[str]:
    """'0.5 credits per 1M input tokens', ... (prices are units per 1M or per item)."""
    what = TOKEN_UNIT.get(model.request_type, "tokens")
    phrases = []
    if model.price_input_per_m:
        phrases.append(f"{_amount(model.price_input_per_m)} per 1M input {what}")
    if model.price_cached_input_per_m:
        phrases.append(f"{_amount(model.price_cached_input_per_m)} per 1M cached input {what}")
    if model.price_output_per_m:
        phrases.append(f"{_amount(model.price_output_per_m)} per 1M output {what}")
    if model.price_per_request:
        phrases.append(f"{_amount(model.price_per_request)} per request")
    for unit, price in sorted(model.unit_prices.items()):
        kind, _, detail = unit.partition(":")
        if detail == "second":
            phrases.append(f"{_amount(price)} per second of {kind}")
        else:
            phrases.append(f"{_amount(price)} per {kind}" + (f" ({detail.replace(':', ', ')})" if detail else ""))
    return phrases or ["free"]


def model_row(model: ApiModel) -> dict[str, str]:
    params = ", ".join(f"{k.replace('_', ' ')}: {v:,}" if isinstance(v, int) else f"{k.replace('_', ' ')}: {v}"
                       for k, v in sorted(model.parameters.items()))
    return {"id": model.public_id, "name": model.display_name or model.public_id, "type": model.request_type,
            "capabilities": ", ".join(model.capabilities), "price": "; ".join(price_phrases(model)),
            "status": model.status, "description": model.description, "parameters": params or "—"}


def load_models() -> list[dict[str, str]]:
    catalog = load_catalog()
    with session_scope() as session:
        rows = session.exec(select(ApiModel).where(ApiModel.is_public.is_(True)).order_by(ApiModel.public_id))
        out = [model_row(m) for m in rows]
    for row in out:
        info = catalog.models.get(row["id"])
        if row["status"] == "active" and info is not None and not has_route(catalog, info):
            row["status"] = "unavailable"  # no enabled channel (e.g. the vendor key is not set)
    return out


class CatalogState(rx.State):
    models: list[dict[str, str]] = []
    loaded: bool = False
    search: str = ""
    capability: str = ""
    selected: dict[str, str] = {}
    samples: dict[str, str] = {}

    @rx.event
    async def load(self):
        self.models = await asyncio.to_thread(load_models)
        self.loaded = True

    @rx.var
    def capabilities(self) -> list[str]:
        return sorted({c.strip() for m in self.models for c in m["capabilities"].split(",") if c.strip()})

    @rx.var
    def visible(self) -> list[dict[str, str]]:
        needle = self.search.strip().lower()
        return [m for m in self.models
                if (not needle or needle in f"{m['id']} {m['name']} {m['type']} {m['description']}".lower())
                and (not self.capability or self.capability in [c.strip() for c in m["capabilities"].split(",")])]

    @rx.event
    def set_search(self, value: str):
        self.search = value

    @rx.event
    def set_capability(self, value: str):
        self.capability = value

    @rx.event
    def show(self, model_id: str):
        row = next((m for m in self.models if m["id"] == model_id), None)
        if row is not None:
            self.selected = row
            self.samples = examples(row["type"], row["id"], get_settings().base_url)

    @rx.event
    def set_detail_open(self, value: bool):
        if not value:
            self.selected = {}
