"""Test factories: users with credits, keys, models and channels, written
through the real services and ledger."""

from __future__ import annotations

import itertools

from sqlmodel import Session

from apiany.core.db import session_scope
from apiany.core.money import UNITS_PER_CREDIT
from apiany.ledger import grant_credits
from apiany.models import ApiModel, Channel, CostRule, User
from apiany.services.accounts import create_user
from apiany.services.keys import KeyCreate, create_key

_seq = itertools.count(1)


def make_user(*, credits: int | float = 0, units: int | None = None, email: str | None = None,
              admin: bool = False) -> User:
    email = email or f"user{next(_seq)}@example.com"
    with session_scope() as session:
        user = create_user(session, email=email, password="correct horse battery", admin=admin,
                           grant_free_credits=False)
        amount = units if units is not None else int(credits * UNITS_PER_CREDIT)
        if amount:
            grant_credits(session, user_id=user.id, amount=amount, kind="adjustment",
                          idempotency_key=f"test-grant:{user.id}", actor="test", memo="test credits")
        return user


def make_key(user: User, **fields) -> str:
    fields.setdefault("name", f"key{next(_seq)}")
    with session_scope() as session:
        secret, _ = create_key(session, user_id=user.id, data=KeyCreate(**fields), actor="test")
        return secret


def add_model(session: Session, public_id: str, request_type: str = "chat", **fields) -> ApiModel:
    model = ApiModel(public_id=public_id, request_type=request_type, **fields)
    session.add(model)
    session.flush()
    return model


def add_channel(session: Session, name: str, base_url: str = "{sandbox}/v1", **fields) -> Channel:
    fields.setdefault("protocol", "openai")
    channel = Channel(name=name, base_url=base_url, **fields)
    session.add(channel)
    session.flush()
    return channel


def add_cost(session: Session, channel: str, upstream_model: str, **fields) -> CostRule:
    rule = CostRule(channel_name=channel, upstream_model=upstream_model, **fields)
    session.add(rule)
    session.flush()
    return rule
