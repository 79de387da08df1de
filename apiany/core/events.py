"""In-process notifications that configuration changed, so caches in upper
layers (the gateway) can drop stale entries without lower layers importing
them. With a session, listeners run only after that session commits (so a
cache never reloads the old row in between). Cross-process invalidation
rides on top (Redis, when configured)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

_listeners: list[Callable[[str, str | None], None]] = []
_PENDING = "apiany_config_changes"


def on_config_changed(listener: Callable[[str, str | None], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def _fire(kind: str, ident: str | None) -> None:
    for listener in list(_listeners):
        listener(kind, ident)


def config_changed(kind: str, ident: str | None = None, session: Session | None = None) -> None:
    """kind: "key" | "catalog"; ident: e.g. the key hash."""
    if session is None:
        _fire(kind, ident)
        return
    session.info.setdefault(_PENDING, set()).add((kind, ident))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for kind, ident in session.info.pop(_PENDING, ()):
        _fire(kind, ident)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
