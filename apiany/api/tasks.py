"""The management API for async tasks (/api/tasks): the caller's own tasks
only; another user's task id is a 404 like an unknown one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from apiany.api.deps import CurrentUser
from apiany.core.db import session_scope
from apiany.services import tasks as svc

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


@router.get("")
def list_tasks(user: CurrentUser, after: str | None = None,
               limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
    with session_scope() as session:
        rows, more = svc.list_tasks(session, user.id, after=after, limit=limit)
        return {"data": [svc.video_object(t) for t in rows], "has_more": more}


@router.get("/webhook-secret")
def get_webhook_secret(user: CurrentUser) -> dict:
    """The secret that signs this user's task callbacks (created on first use).
    Verify `apiany-signature: t=<unix>,v1=<hex>` as HMAC-SHA256(secret, "<t>.<raw body>")."""
    with session_scope() as session:
        return {"webhook_secret": svc.webhook_secret(session, user.id)}


@router.get("/{task_id}")
def get_task(task_id: str, user: CurrentUser) -> dict:
    with session_scope() as session:
        return svc.task_story(session, user_id=user.id, task_id=task_id)
