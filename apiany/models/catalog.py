"""What can be called (public models), who serves it (channels), what it
costs us (cost rules) and what users can buy (credit packs and plans).
All of it is configuration: seeds or the admin console, never code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from apiany.core.db import utcnow

REQUEST_TYPES = ("chat", "embedding", "responses", "image", "speech", "transcription", "video")
DEFAULT_RETRY_ON = ["connect_error", "timeout", "429", "5xx"]


def _json(default_factory):
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


def _big(default: int | None = 0, nullable: bool = False):
    return Field(default=default, sa_column=Column(BigInteger, nullable=nullable, default=default))


class ApiModel(SQLModel, table=True):
    """A public model id. Prices are integer units (1e-6 credit) per 1M
    tokens (or characters for speech) or per request; `unit_prices` holds
    per-unit media prices, e.g. {"image:1024x1024:standard": 40000000}."""

    __tablename__ = "api_models"
    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=200, unique=True, index=True)
    request_type: str = Field(max_length=20)
    display_name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    capabilities: list[str] = _json(list)
    parameters: dict[str, Any] = _json(dict)
    status: str = Field(default="active", max_length=20)  # active | deprecated | unavailable
    is_public: bool = Field(default=True)
    price_input_per_m: int = _big()
    price_cached_input_per_m: int = _big()
    price_output_per_m: int = _big()
    price_per_request: int = _big()
    unit_prices: dict[str, int] = _json(dict)
    channel_groups: list[str] = _json(lambda: ["default"])
    max_attempts: int = Field(default=3)
    retry_on: list[str] = _json(lambda: list(DEFAULT_RETRY_ON))
    fallback_models: list[str] = _json(list)
    max_task_age_seconds: int = Field(default=3600)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Channel(SQLModel, table=True):
    """One upstream endpoint speaking one protocol. The secret is never
    stored: `secret_ref` names the environment variable that holds it."""

    __tablename__ = "channels"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    protocol: str = Field(max_length=30)  # openai | anthropic
    base_url: str = Field(max_length=500)
    secret_ref: str | None = Field(default=None, max_length=100)
    enabled: bool = Field(default=True)
    requires_secret: bool = Field(default=False)
    healthy: bool = Field(default=True)
    consecutive_failures: int = Field(default=0)
    unhealthy_until: datetime | None = None
    last_checked_at: datetime | None = None
    last_error: str = Field(default="", max_length=500)
    last_latency_ms: int | None = None
    priority: int = Field(default=0)
    weight: int = Field(default=1)
    groups: list[str] = _json(lambda: ["default"])
    request_types: list[str] = _json(lambda: list(REQUEST_TYPES))
    model_map: dict[str, str] = _json(dict)
    extra_headers: dict[str, str] = _json(dict)
    timeout_seconds: float | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CostRule(SQLModel, table=True):
    """What an upstream charges us, in micro-units of `currency` (1e-6 USD)
    per 1M tokens / per request / per media unit. Independent of prices."""

    __tablename__ = "cost_rules"
    __table_args__ = (UniqueConstraint("channel_name", "upstream_model", name="uq_cost_rule"),)
    id: int | None = Field(default=None, primary_key=True)
    channel_name: str = Field(max_length=100)
    upstream_model: str = Field(max_length=200)
    currency: str = Field(default="usd", max_length=3)
    cost_input_per_m: int = _big()
    cost_cached_input_per_m: int = _big()
    cost_output_per_m: int = _big()
    cost_per_request: int = _big()
    unit_costs: dict[str, int] = _json(dict)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CreditPack(SQLModel, table=True):
    """A one-off credit pack (`kind=pack`) or a monthly plan (`kind=plan`)."""

    __tablename__ = "credit_packs"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=50, unique=True, index=True)
    kind: str = Field(default="pack", max_length=10)
    name: str = Field(max_length=200)
    price_minor: int = _big()
    currency: str = Field(default="usd", max_length=3)
    credits: int = _big()  # units granted per purchase / per period
    expires_days: int | None = None
    interval: str | None = Field(default=None, max_length=10)  # month, for plans
    active: bool = Field(default=True)
    sort_order: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
