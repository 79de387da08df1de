"""Async media tasks (video): our task id, the channel and upstream task id
that accepted it, its status and billing links, polling and callbacks.

Status: queued | in_progress (non-final; an unknown upstream status keeps
the task in_progress and is recorded in `upstream_status`) -> completed |
failed | cancelled | expired (final). Only the writer that moves a task from
a non-final to a final status (compare-and-set) refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel

from apiany.core.db import utcnow

OPEN_STATUSES = ("queued", "in_progress")
FINAL_STATUSES = ("completed", "failed", "cancelled", "expired")


class MediaTask(SQLModel, table=True):
    __tablename__ = "media_tasks"
    __table_args__ = (
        Index("ix_media_tasks_user_created", "user_id", "created_at"),
        Index("ix_media_tasks_poll", "status", "next_poll_at"),
        Index("ix_media_tasks_callback", "callback_state", "callback_next_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    task_id: str = Field(max_length=64, unique=True)
    request_id: str = Field(max_length=64, index=True)
    user_id: int = Field(foreign_key="users.id")
    api_key_id: int | None = Field(default=None, foreign_key="api_keys.id")
    kind: str = Field(default="video", max_length=20)
    public_model: str = Field(max_length=200)
    upstream_model: str = Field(default="", max_length=200)
    channel_id: int | None = Field(default=None, foreign_key="channels.id")
    channel_name: str = Field(default="", max_length=100)
    upstream_task_id: str = Field(default="", max_length=200)
    status: str = Field(default="queued", max_length=20)
    upstream_status: str = Field(default="", max_length=60)
    progress: int = Field(default=0)
    error_code: str = Field(default="", max_length=60)
    error_message: str = Field(default="", max_length=500)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    credits_charged: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    hold_id: int | None = Field(default=None, foreign_key="holds.id")
    consumption_transaction_id: int | None = Field(default=None, foreign_key="ledger_transactions.id")
    refund_transaction_id: int | None = Field(default=None, foreign_key="ledger_transactions.id")
    poll_count: int = Field(default=0)
    next_poll_at: datetime | None = None
    last_polled_at: datetime | None = None
    expires_at: datetime
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    deleted_at: datetime | None = None
    callback_url: str | None = Field(default=None, max_length=2000)
    callback_state: str = Field(default="none", max_length=20)  # none|pending|delivered|failed|refused
    callback_attempts: int = Field(default=0)
    callback_next_at: datetime | None = None


class TaskCallbackAttempt(SQLModel, table=True):
    """One delivery attempt of a task's completion callback."""

    __tablename__ = "task_callback_attempts"
    id: int | None = Field(default=None, primary_key=True)
    task_id: str = Field(max_length=64, index=True)
    attempt_no: int
    url: str = Field(max_length=2000)
    http_status: int | None = None
    outcome: str = Field(max_length=20)  # delivered | retry | failed | refused
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    latency_ms: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)
