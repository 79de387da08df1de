"""Audit trail: who did what to which object.

`record` adds one AuditLog row to the caller's session (same transaction as
the change it describes; it never commits). Details are scrubbed first: any
key that names a secret (password, token, key, secret, ...) is dropped at
every nesting level, and string values that look like an API key are
replaced, so secrets never reach the audit table.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from apiany.core.security import API_KEY_PREFIX
from apiany.models.audit import AuditLog

REDACTED = "[redacted]"
# A key is secret when one of its words (split on "_", "-", ".", case-insensitive)
# is one of these, or when its last word is "key"/"hash" (api_key, token_hash),
# so that harmless names such as key_id or key_prefix survive.
_SECRET_WORDS = frozenset({"password", "passwd", "pwd", "token", "secret", "authorization",
                           "cookie", "credential", "credentials", "apikey"})
_SECRET_LAST_WORDS = frozenset({"key", "hash"})
_API_KEY_RE = re.compile(re.escape(API_KEY_PREFIX) + r"[A-Za-z0-9_\-]{16,}")
_MAX_DEPTH = 8


def is_secret_name(name: str) -> bool:
    words = [w for w in re.split(r"[_\-.\s]+", str(name).lower()) if w]
    if not words:
        return False
    return any(w in _SECRET_WORDS for w in words) or words[-1] in _SECRET_LAST_WORDS


def scrub(value: Any, _depth: int = 0) -> Any:
    """A JSON-safe copy of `value` without secret-named keys or key-like strings."""
    if _depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, dict):
        return {str(k): scrub(v, _depth + 1) for k, v in value.items() if not is_secret_name(str(k))}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(v, _depth + 1) for v in value]
    if isinstance(value, str):
        return _API_KEY_RE.sub(REDACTED, value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return _API_KEY_RE.sub(REDACTED, str(value))


def user_actor(user: Any) -> str:
    """The conventional actor string for a signed-in person: "admin:1" / "user:3"."""
    return f"{'admin' if getattr(user, 'role', '') == 'admin' else 'user'}:{user.id}"


def record(session: Session, *, actor: str, action: str, target_type: str = "",
           target_id: str | int = "", details: dict[str, Any] | None = None,
           actor_user_id: int | None = None, client_ip: str = "") -> AuditLog:
    row = AuditLog(
        actor=str(actor)[:200],
        action=str(action)[:100],
        target_type=str(target_type)[:50],
        target_id=str(target_id)[:100],
        details=scrub(details or {}),
        actor_user_id=actor_user_id,
        client_ip=(client_ip or "")[:64],
    )
    session.add(row)
    return row
