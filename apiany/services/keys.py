"""API keys: created with the secret shown once, stored as SHA-256 with a
display prefix and last four characters. Every query is filtered by owner."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import field_validator
from sqlmodel import Field, Session, SQLModel, select

from apiany.core.db import utcnow
from apiany.core.errors import InvalidRequest, NotFound
from apiany.core.events import config_changed
from apiany.core.money import format_credits
from apiany.core.security import hash_token, new_api_key
from apiany.models import ApiKey, ApiModel
from apiany.services import audit

KEY_STATUSES = ("active", "disabled", "revoked")
BUDGET_PERIODS = ("none", "monthly")
MAX_BUDGET_UNITS = 10**15  # one billion credits
# Fields that cannot be empty: an explicit null in an update means "leave as is".
_NOT_NULL = ("name", "app_name", "purpose", "budget_period", "model_scope", "log_content", "status")


def _as_utc(value: datetime | None) -> datetime | None:
    """Times without a zone are taken as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class KeyFields(SQLModel):
    app_name: str = Field(default="", max_length=100)
    purpose: str = Field(default="", max_length=500)
    budget: int | None = Field(default=None, ge=1, le=MAX_BUDGET_UNITS, description="units; None = no budget")
    budget_period: str = "none"
    rpm_limit: int | None = Field(default=None, ge=1, le=1_000_000)
    model_scope: list[str] = Field(default_factory=list)
    log_content: bool = False
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _expiry(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)

    @field_validator("budget_period")
    @classmethod
    def _period(cls, value: str) -> str:
        if value not in BUDGET_PERIODS:
            raise ValueError(f"must be one of {', '.join(BUDGET_PERIODS)}")
        return value


class KeyCreate(KeyFields):
    name: str = Field(min_length=1, max_length=100)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class KeyUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    app_name: str | None = Field(default=None, max_length=100)
    purpose: str | None = Field(default=None, max_length=500)
    budget: int | None = Field(default=None, ge=0, le=MAX_BUDGET_UNITS)
    budget_period: str | None = None
    rpm_limit: int | None = Field(default=None, ge=0, le=1_000_000)
    model_scope: list[str] | None = None
    log_content: bool | None = None
    expires_at: datetime | None = None
    status: str | None = None

    @field_validator("expires_at")
    @classmethod
    def _expiry(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        if value is not None and value not in ("active", "disabled"):
            raise ValueError("must be active or disabled (use revoke to revoke)")
        return value

    @field_validator("budget_period")
    @classmethod
    def _period(cls, value: str | None) -> str | None:
        if value is not None and value not in BUDGET_PERIODS:
            raise ValueError(f"must be one of {', '.join(BUDGET_PERIODS)}")
        return value


class KeyPublic(SQLModel):
    id: int
    name: str
    app_name: str
    purpose: str
    display: str
    status: str
    budget: int | None
    budget_period: str
    budget_used: int
    rpm_limit: int | None
    model_scope: list[str]
    log_content: bool
    expires_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
    budget_credits: str | None = None
    budget_used_credits: str = "0"

    @classmethod
    def of(cls, key: ApiKey) -> KeyPublic:
        return cls(display=f"{key.prefix}...{key.last4}", **key.model_dump(exclude={"key_hash"}),
                   budget_credits=None if key.budget is None else format_credits(key.budget).replace(",", ""),
                   budget_used_credits=format_credits(key.budget_used).replace(",", ""))


def _check_scope(session: Session, scope: list[str]) -> list[str]:
    cleaned = sorted({m.strip() for m in scope if m.strip()})
    if cleaned:
        known = set(session.exec(select(ApiModel.public_id).where(ApiModel.public_id.in_(cleaned))))
        missing = [m for m in cleaned if m not in known]
        if missing:
            raise InvalidRequest(f"unknown model id(s) in model_scope: {', '.join(missing)}",
                                 param="model_scope")
    return cleaned


def create_key(session: Session, *, user_id: int, data: KeyCreate, actor: str) -> tuple[str, ApiKey]:
    """Returns (secret, row). The secret is never stored and never shown again."""
    data = KeyCreate.model_validate(data.model_dump())
    secret = new_api_key()
    key = ApiKey(
        user_id=user_id, key_hash=hash_token(secret), prefix=secret[:7], last4=secret[-4:],
        **data.model_dump(exclude={"model_scope"}), model_scope=_check_scope(session, data.model_scope),
    )
    if key.budget_period == "monthly":
        now = utcnow()
        key.budget_period_start = datetime(now.year, now.month, 1, tzinfo=UTC)
    session.add(key)
    session.flush()
    audit.record(session, actor=actor, action="key.create", target_type="api_key",
                 target_id=str(key.id), actor_user_id=user_id,
                 details={"name": key.name, "display": f"{key.prefix}...{key.last4}"})
    return secret, key


def get_key(session: Session, *, user_id: int, key_id: int) -> ApiKey:
    key = session.exec(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id)).first()
    if key is None:
        raise NotFound(f"no API key with id {key_id}", param="key_id")
    return key


def list_keys(session: Session, *, user_id: int, include_revoked: bool = True) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.user_id == user_id)
    if not include_revoked:
        query = query.where(ApiKey.status != "revoked")
    return list(session.exec(query.order_by(ApiKey.id.desc())))


def update_key(session: Session, *, user_id: int, key_id: int, data: KeyUpdate, actor: str) -> ApiKey:
    key = get_key(session, user_id=user_id, key_id=key_id)
    if key.status == "revoked":
        raise InvalidRequest("a revoked key cannot be changed", param="key_id")
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items()
               if not (v is None and k in _NOT_NULL)}
    if "model_scope" in changes:
        changes["model_scope"] = _check_scope(session, changes["model_scope"] or [])
    for field in ("budget", "rpm_limit"):
        if changes.get(field) == 0:
            changes[field] = None  # 0 clears the limit
    for field, value in changes.items():
        setattr(key, field, value)
    key.updated_at = utcnow()
    session.add(key)
    session.flush()
    audit.record(session, actor=actor, action="key.update", target_type="api_key",
                 target_id=str(key.id), actor_user_id=user_id, details={"fields": sorted(changes)})
    config_changed("key", key.key_hash, session)
    return key


def revoke_key(session: Session, *, user_id: int, key_id: int, actor: str) -> ApiKey:
    key = get_key(session, user_id=user_id, key_id=key_id)
    if key.status != "revoked":
        key.status = "revoked"
        key.revoked_at = key.updated_at = utcnow()
        session.add(key)
        session.flush()
        audit.record(session, actor=actor, action="key.revoke", target_type="api_key",
                     target_id=str(key.id), actor_user_id=user_id)
    config_changed("key", key.key_hash, session)
    return key
