"""The management API (/api/*) for signed-in users: keys and usage.
Every query is scoped to the caller's own rows."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

from apiany.api.deps import CurrentUser
from apiany.core.db import session_scope
from apiany.core.errors import InvalidRequest
from apiany.core.money import credits_to_units
from apiany.services.keys import KeyCreate, KeyPublic, KeyUpdate, create_key, list_keys, revoke_key, update_key
from apiany.services.usage import UsageFilters, list_usage, request_story

router = APIRouter(prefix="/api", tags=["management"])
KeyId = Annotated[int, Path(ge=1, le=2**62)]
MAX_BUDGET_CREDITS = 10**9


class KeyCreateRequest(KeyCreate):
    """As KeyCreate, with `budget` in credits (e.g. 25 or "2.5")."""

    budget: Decimal | None = Field(default=None, gt=0, le=MAX_BUDGET_CREDITS, description="credits")

    def to_service(self) -> KeyCreate:
        return KeyCreate(**self.model_dump(exclude={"budget"}), budget=_units(self.budget))


class KeyUpdateRequest(KeyUpdate):
    """As KeyUpdate, with `budget` in credits (0 removes the budget)."""

    budget: Decimal | None = Field(default=None, ge=0, le=MAX_BUDGET_CREDITS, description="credits")

    def to_service(self) -> KeyUpdate:
        data = self.model_dump(exclude_unset=True, exclude={"budget"})
        if "budget" in self.model_fields_set:
            data["budget"] = _units(self.budget) if self.budget is not None else None
        return KeyUpdate(**data)


def _units(credits: Decimal | None) -> int | None:
    if credits is None:
        return None
    try:
        return credits_to_units(credits)
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="budget") from None


def _actor(user) -> str:
    return f"user:{user.id}"


@router.get("/balance")
def get_balance(user: CurrentUser) -> dict:
    """Balance in units (1 credit = 1,000,000 units) and in credits."""
    from apiany.core.money import format_credits
    from apiany.ledger import balance_of

    with session_scope() as session:
        view = balance_of(session, user.id)
    return {"balance": view.balance, "held": view.held, "available": view.available,
            "free": view.free, "purchased": view.purchased, "expiring_soon": view.expiring_soon,
            "next_expiry": view.next_expiry, "balance_credits": format_credits(view.balance)}


@router.get("/keys")
def get_keys(user: CurrentUser) -> dict:
    with session_scope() as session:
        return {"data": [KeyPublic.of(k) for k in list_keys(session, user_id=user.id)]}


@router.post("/keys", status_code=201)
def post_key(data: KeyCreateRequest, user: CurrentUser) -> dict:
    """Creates a key. The `key` field is the secret, shown this one time."""
    with session_scope() as session:
        secret, key = create_key(session, user_id=user.id, data=data.to_service(), actor=_actor(user))
        return {"key": secret, "api_key": KeyPublic.of(key)}


@router.patch("/keys/{key_id}")
def patch_key(key_id: KeyId, data: KeyUpdateRequest, user: CurrentUser) -> KeyPublic:
    return _update(key_id, data.to_service(), user)


def _update(key_id: int, data: KeyUpdate, user) -> KeyPublic:
    with session_scope() as session:
        return KeyPublic.of(update_key(session, user_id=user.id, key_id=key_id, data=data,
                                       actor=_actor(user)))


@router.post("/keys/{key_id}/disable")
def disable_key(key_id: KeyId, user: CurrentUser) -> KeyPublic:
    return _update(key_id, KeyUpdate(status="disabled"), user)


@router.post("/keys/{key_id}/enable")
def enable_key(key_id: KeyId, user: CurrentUser) -> KeyPublic:
    return _update(key_id, KeyUpdate(status="active"), user)


@router.post("/keys/{key_id}/revoke")
def post_revoke_key(key_id: KeyId, user: CurrentUser) -> KeyPublic:
    with session_scope() as session:
        return KeyPublic.of(revoke_key(session, user_id=user.id, key_id=key_id, actor=_actor(user)))


@router.get("/usage")
def get_usage(
    user: CurrentUser,
    since: datetime | None = None,
    until: datetime | None = None,
    api_key_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    model: str | None = None,
    status: str | None = None,
    request_type: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> dict:
    filters = UsageFilters(since=since, until=until, api_key_id=api_key_id, model=model,
                           status=status, request_type=request_type)
    with session_scope() as session:
        rows, total = list_usage(session, user_id=user.id, filters=filters, limit=limit, offset=offset)
        return {"data": [r.model_dump() for r in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/usage/{request_id}")
def get_request(request_id: str, user: CurrentUser) -> dict:
    with session_scope() as session:
        return request_story(session, user_id=user.id, request_id=request_id)
