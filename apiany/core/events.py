"""In-process notifications that configuration changed, so caches in upper
layers (the gateway) can drop stale entries without lower layers importing
them. With a session, listeners run only after that session commits (so a
cache never reloads the old row in between). Cross-process invalidation
rides on top (Redis, when configured)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("apiany.events")
_listeners: list[Callable[[str, str | None], None]] = []
PENDING_CHANGES = "apiany_config_changes"


def on_config_changed(listener: Callable[[str, str | None], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


REDIS_CHANNEL = "apiany:config-changed"
ORIGIN = uuid.uuid4().hex  # this process; remote listeners skip their own messages
_redis = None


def _fire(kind: str, ident: str | None) -> None:
    for listener in list(_listeners):
        listener(kind, ident)
    _publish(kind, ident)


def _publish(kind: str, ident: str | None) -> None:
    """Tell other processes (workers, instances) through Redis, when configured."""
    global _redis
    from apiany.core.settings import get_settings

    url = get_settings().redis_url
    if not url:
        return
    try:
        if _redis is None:
            import redis

            _redis = redis.Redis.from_url(url, socket_timeout=2)
        _redis.publish(REDIS_CHANNEL, json.dumps({"kind": kind, "ident": ident, "origin": ORIGIN}))
    except Exception:  # caches still expire after their TTL
        log.warning("could not publish a config change to Redis", exc_info=True)


def receive_remote(message: bytes | str) -> None:
    """Apply a change announced by another process (called by the subscriber)."""
    try:
        data = json.loads(message)
    except ValueError:
        return
    if data.get("origin") == ORIGIN:
        return
    for listener in list(_listeners):
        listener(data.get("kind", "catalog"), data.get("ident"))


def config_changed(kind: str, ident: str | None = None, session: Session | None = None) -> None:
    """kind: "key" | "catalog"; ident: e.g. the key hash."""
    if session is None:
        _fire(kind, ident)
        return
    session.info.setdefault(PENDING_CHANGES, set()).add((kind, ident))


def fire_changes(changes) -> None:
    """Fire changes collected in a transaction, after it committed."""
    for kind, ident in changes:
        _fire(kind, ident)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    fire_changes(session.info.pop(PENDING_CHANGES, ()))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING_CHANGES, None)
