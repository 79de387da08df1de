from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from apiany.core.db import utcnow


class AuditLog(SQLModel, table=True):
    """Who did what to which object. Written in the same transaction as the
    change it describes; never updated."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    actor: str = Field(max_length=200)  # "user:3", "admin:1", "cli", "system", "job:expire_credits"
    action: str = Field(max_length=100, index=True)
    target_type: str = Field(default="", max_length=50)
    target_id: str = Field(default="", max_length=100)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    client_ip: str = Field(default="", max_length=64)
