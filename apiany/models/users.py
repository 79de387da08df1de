from __future__ import annotations

from datetime import datetime

from pydantic import EmailStr
from sqlmodel import Field, SQLModel

from apiany.core.db import utcnow


class UserBase(SQLModel):
    email: str = Field(max_length=320, unique=True, index=True)
    display_name: str = Field(default="", max_length=200)


class User(UserBase, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(default="user", max_length=16)  # user | admin
    is_active: bool = Field(default=True)
    webhook_secret: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class UserCreate(SQLModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=256)
    display_name: str = Field(default="", max_length=200)


class UserPublic(UserBase):
    id: int
    role: str
    is_active: bool
    created_at: datetime


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser. Only the SHA-256 of the token is stored."""

    __tablename__ = "console_sessions"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    last_seen_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    user_agent: str = Field(default="", max_length=400)
    client_ip: str = Field(default="", max_length=64)


class LoginThrottle(SQLModel, table=True):
    """Failed-login counters per account (`email:`) and per client (`ip:`)."""

    __tablename__ = "login_throttles"
    key: str = Field(primary_key=True, max_length=400)
    failures: int = Field(default=0)
    last_failure_at: datetime = Field(default_factory=utcnow)
    blocked_until: datetime | None = None
