from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel

from apiany.core.db import utcnow


class UsageRecord(SQLModel, table=True):
    """One row per /v1 request, success or not. `credits_charged` equals the
    ledger consumption of `request_id` exactly; `upstream_cost` is in
    micro-units of the cost rule's currency."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_user_created", "user_id", "created_at"),
        Index("ix_usage_created", "created_at"),
        Index("ix_usage_key_created", "api_key_id", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=64, unique=True)
    user_id: int | None = Field(default=None, foreign_key="users.id")
    api_key_id: int | None = Field(default=None, foreign_key="api_keys.id")
    public_model: str = Field(default="", max_length=200)
    upstream_model: str = Field(default="", max_length=200)
    request_type: str = Field(default="", max_length=20)
    endpoint: str = Field(default="", max_length=100)
    stream: bool = Field(default=False)
    status: str = Field(default="success", max_length=20)  # success | error | pending
    http_status: int = Field(default=200)
    latency_ms: int = Field(default=0)
    ttft_ms: int | None = None
    prompt_tokens: int = Field(default=0)
    cached_tokens: int = Field(default=0)
    completion_tokens: int = Field(default=0)
    reasoning_tokens: int = Field(default=0)
    billed_units: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    unit_kind: str = Field(default="", max_length=40)
    credits_charged: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    upstream_cost: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    upstream_cost_currency: str = Field(default="usd", max_length=3)
    channel_id: int | None = Field(default=None, foreign_key="channels.id")
    channel_name: str = Field(default="", max_length=100)
    attempt_count: int = Field(default=0)
    error_type: str = Field(default="", max_length=60)
    error_summary: str = Field(default="", max_length=500)
    task_id: str | None = Field(default=None, max_length=64, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class ChannelAttempt(SQLModel, table=True):
    __tablename__ = "channel_attempts"
    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=64, index=True)
    attempt_no: int
    channel_id: int | None = Field(default=None, foreign_key="channels.id")
    channel_name: str = Field(max_length=100)
    upstream_model: str = Field(default="", max_length=200)
    status: str = Field(max_length=20)  # ok | error
    http_status: int | None = None
    latency_ms: int = Field(default=0)
    error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)


class RequestBody(SQLModel, table=True):
    """Request/response bodies, kept only for keys with content logging on
    and only for the retention window."""

    __tablename__ = "request_bodies"
    request_id: str = Field(primary_key=True, max_length=64)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    request_body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    response_body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, index=True)
