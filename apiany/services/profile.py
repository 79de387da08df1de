"""A user's own profile: display name and the per-user webhook secret that
signs async task callbacks. Every function acts on the given user id only."""

from __future__ import annotations

import secrets

from sqlmodel import Session

from apiany.core.db import utcnow
from apiany.core.errors import InvalidRequest, NotFound
from apiany.models import User
from apiany.services import audit

WEBHOOK_SECRET_PREFIX = "whsec_"


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotFound("No such user", param="user_id")
    return user


def update_display_name(session: Session, *, user_id: int, display_name: str) -> User:
    name = (display_name or "").strip()
    if len(name) > 200:
        raise InvalidRequest("Use at most 200 characters", param="display_name")
    user = _user(session, user_id)
    user.display_name, user.updated_at = name, utcnow()
    session.add(user)
    audit.record(session, actor=audit.user_actor(user), actor_user_id=user.id, action="user.profile_update",
                 target_type="user", target_id=user.id, details={"fields": ["display_name"]})
    return user


def webhook_secret_hint(secret: str | None) -> str:
    """'whsec_…a1b2' (never the whole secret in listings)."""
    return f"{WEBHOOK_SECRET_PREFIX}…{secret[-4:]}" if secret else ""


def rotate_webhook_secret(session: Session, *, user_id: int) -> str:
    """A new secret replaces the old one at once; returns it (shown to the user)."""
    user = _user(session, user_id)
    user.webhook_secret = WEBHOOK_SECRET_PREFIX + secrets.token_urlsafe(32)
    user.updated_at = utcnow()
    session.add(user)
    audit.record(session, actor=audit.user_actor(user), actor_user_id=user.id, action="user.webhook_secret_rotate",
                 target_type="user", target_id=user.id)
    return user.webhook_secret
