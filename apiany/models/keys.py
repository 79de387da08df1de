from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from apiany.core.db import utcnow


class ApiKey(SQLModel, table=True):
    """An API key. Only its SHA-256 is stored, plus prefix and last four
    characters for display. Budget counters are in units and are written
    by the ledger's holds in the same transaction as the balance."""

    __tablename__ = "api_keys"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=100)
    app_name: str = Field(default="", max_length=100)
    purpose: str = Field(default="", max_length=500)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=12)
    last4: str = Field(max_length=4)
    status: str = Field(default="active", max_length=10)  # active | disabled | revoked
    budget: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    budget_period: str = Field(default="none", max_length=10)  # none | monthly
    budget_used: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    budget_held: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    budget_period_start: datetime | None = None
    rpm_limit: int | None = None
    model_scope: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    log_content: bool = Field(default=False)
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
