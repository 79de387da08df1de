"""Internal jobs for async media tasks, each a plain function the scheduler
and `python -m apiany jobs run NAME` call; each returns how many tasks it
moved and takes `now` for tests.

- poll_media_tasks: poll due tasks (one poller per due time; backoff)
- expire_stale_tasks: fail and refund tasks past their maximum age
- deliver_callbacks: POST finished tasks to their callback URL, signed,
  retried with backoff for a bounded time, every attempt recorded
"""

from __future__ import annotations

import json
import time
from datetime import datetime

import httpx
from sqlmodel import Session, col, select, update

from apiany.core.db import get_engine, session_scope, utcnow
from apiany.core.settings import get_settings
from apiany.gateway.tasks import refresh_task
from apiany.models import MediaTask, TaskCallbackAttempt
from apiany.services import tasks as svc

CALLBACK_TIMEOUT_SECONDS = 10.0


def poll_media_tasks(now: datetime | None = None) -> int:
    now = now or utcnow()
    with Session(get_engine(readonly=True)) as session:
        ids = [t.task_id for t in svc.due_for_poll(session, now)]
    return sum(refresh_task(task_id, now) == "polled" for task_id in ids)


def expire_stale_tasks(now: datetime | None = None) -> int:
    now = now or utcnow()
    with Session(get_engine(readonly=True)) as session:
        ids = svc.stale_task_ids(session, now)
    expired = 0
    for task_id in ids:
        with session_scope() as session:
            expired += svc.finish_task(session, task_id, "expired", now=now, error_code="task_expired",
                                       error_message="the task did not finish within the model's maximum task age")
    return expired


def _claim_callback(task: MediaTask, now: datetime) -> bool:
    with session_scope() as session:
        return session.exec(update(MediaTask).where(
            MediaTask.id == task.id, MediaTask.callback_state == "pending",
            MediaTask.callback_attempts == task.callback_attempts).values(
            callback_attempts=task.callback_attempts + 1,
            callback_next_at=now + svc.callback_delay(task.callback_attempts + 1))).rowcount == 1


def _record(task: MediaTask, attempt_no: int, outcome: str, *, status: int | None = None, error: str = "",
            latency_ms: int = 0, next_at: datetime | None = None) -> None:
    state = {"delivered": "delivered", "failed": "failed", "refused": "refused"}.get(outcome, "pending")
    with session_scope() as session:
        session.add(TaskCallbackAttempt(task_id=task.task_id, attempt_no=attempt_no, url=task.callback_url or "",
                                        http_status=status, outcome=outcome, error=error[:2000],
                                        latency_ms=latency_ms))
        values: dict = {"callback_state": state}
        if next_at is not None:
            values["callback_next_at"] = next_at
        session.exec(update(MediaTask).where(MediaTask.id == task.id).values(**values))


def _deliver_one(task: MediaTask, now: datetime, production: bool) -> str:
    attempt_no = task.callback_attempts + 1
    reason = (svc.callback_refusal(task.callback_url, production=production)
              or svc.resolved_refusal(task.callback_url, production=production))
    if reason:
        _record(task, attempt_no, "refused", error=reason)
        return "refused"
    with session_scope() as session:
        secret = svc.webhook_secret(session, task.user_id)
    event = {"type": f"video.{svc.video_object(task)['status']}", "created_at": int(now.timestamp()),
             "data": svc.video_object(task)}
    body = json.dumps(event, separators=(",", ":")).encode()
    headers = {"content-type": "application/json", "user-agent": "APIAny-Webhooks/1",
               "apiany-signature": svc.sign(secret, int(time.time()), body), "apiany-task-id": task.task_id}
    started = time.perf_counter()
    status, error = None, ""
    try:
        resp = httpx.post(task.callback_url, content=body, headers=headers, timeout=CALLBACK_TIMEOUT_SECONDS,
                          follow_redirects=False)
        status = resp.status_code
        error = "" if 200 <= status < 300 else resp.text[:500]
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    latency = int((time.perf_counter() - started) * 1000)
    if status is not None and 200 <= status < 300:
        _record(task, attempt_no, "delivered", status=status, latency_ms=latency)
        return "delivered"
    first_due = task.finished_at or now
    next_at = now + svc.callback_delay(attempt_no)
    if attempt_no >= svc.CALLBACK_MAX_ATTEMPTS or next_at > first_due + svc.CALLBACK_WINDOW:
        _record(task, attempt_no, "failed", status=status, error=error or "gave up", latency_ms=latency)
        return "failed"
    _record(task, attempt_no, "retry", status=status, error=error, latency_ms=latency, next_at=next_at)
    return "retry"


def deliver_callbacks(now: datetime | None = None) -> int:
    """Returns the number of callbacks delivered in this run."""
    now = now or utcnow()
    production = get_settings().env == "prod"
    with Session(get_engine(readonly=True)) as session:
        tasks = list(session.exec(select(MediaTask).where(
            MediaTask.callback_state == "pending", col(MediaTask.callback_next_at) <= now)
            .order_by(MediaTask.callback_next_at).limit(100)))
    delivered = 0
    for task in tasks:
        if _claim_callback(task, now):
            delivered += _deliver_one(task, now, production) == "delivered"
    return delivered

