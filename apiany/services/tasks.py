"""Async media tasks: the database side. Status changes are compare-and-set
(`UPDATE ... WHERE status IN (open statuses)`): only the writer that moves a
task to a final status refunds it (in the same transaction), so two
pollers, a poller and a DELETE, or a retry after a crash refund at most
once. The ledger's idempotency key `refund:task:<id>` is a second guard.

Callback rules: https, or http to a loopback host outside production.
Deliveries are signed `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
with the user's webhook secret (created on first need)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import socket
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlmodel import Session, col, select, update

from apiany.core.db import utcnow
from apiany.core.errors import NotFound
from apiany.ledger import refund_consumption
from apiany.models import MediaTask, TaskCallbackAttempt, UsageRecord, User
from apiany.models.tasks import FINAL_STATUSES, OPEN_STATUSES
from apiany.services.usage import ledger_movements

POLL_BASE_SECONDS = 2
POLL_MAX_SECONDS = 60
CALLBACK_BASE_SECONDS = 5
CALLBACK_MAX_SECONDS = 600
CALLBACK_WINDOW = timedelta(hours=1)   # give up after this long past the first attempt's due time
CALLBACK_MAX_ATTEMPTS = 8
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def new_task_id() -> str:
    return "video_" + secrets.token_hex(16)


def poll_delay(poll_count: int) -> timedelta:
    return timedelta(seconds=min(POLL_BASE_SECONDS * 2 ** min(poll_count, 10), POLL_MAX_SECONDS))


def callback_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(CALLBACK_BASE_SECONDS * 2 ** max(attempts - 1, 0), CALLBACK_MAX_SECONDS))


def callback_refusal(url: str | None, *, production: bool) -> str | None:
    """Why a callback URL is refused, or None when it is allowed."""
    if not url:
        return "no callback URL"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        return "not a valid URL"
    if not host or parts.username or parts.password:
        return "the URL needs a host and no credentials"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    loopback = host in LOOPBACK_NAMES or (ip is not None and ip.is_loopback)
    if parts.scheme == "https":
        if ip is not None and not loopback and (ip.is_private or ip.is_link_local or ip.is_reserved
                                                or ip.is_unspecified or ip.is_multicast):
            return "https callbacks may not target private or reserved addresses"
        if loopback and production:
            return "loopback callbacks are for development only"
        return None
    if parts.scheme == "http" and loopback and not production:
        return None
    return "callbacks must use https (http only to a loopback address in development)"


def _refused_address(ip, production: bool) -> bool:
    if ip.is_loopback:
        return production
    return ip.is_private or ip.is_link_local or ip.is_reserved or ip.is_unspecified or ip.is_multicast


def resolved_refusal(url: str, *, production: bool) -> str | None:
    """At delivery time: resolve the host and refuse when any address it
    names is private, reserved, link-local or (in production) loopback. This
    also catches odd spellings of addresses (2130706433, 0x7f.1, 127.1) and
    names that point inside the network."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return f"the callback host {host!r} does not resolve"
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if _refused_address(ip, production):
            return f"the callback host {host!r} resolves to a refused address ({ip})"
    return None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_secret(session: Session, user_id: int) -> str:
    user = session.exec(select(User).where(User.id == user_id).with_for_update()).one()
    if not user.webhook_secret:
        user.webhook_secret = "whsec_" + secrets.token_urlsafe(32)
        session.add(user)
        session.flush()
    return user.webhook_secret


def video_object(task: MediaTask) -> dict:
    """The OpenAI `video` object the client sees (our task id, our model id)."""
    status = {"cancelled": "failed", "expired": "failed"}.get(task.status, task.status)
    error = ({"code": task.error_code or task.status, "message": task.error_message or task.status}
             if task.status in ("failed", "cancelled", "expired") else None)
    return {"id": task.task_id, "object": "video", "model": task.public_model, "status": status,
            "progress": 100 if task.status == "completed" else task.progress,
            "created_at": int(task.created_at.timestamp()),
            "completed_at": int(task.finished_at.timestamp()) if task.finished_at else None,
            "expires_at": None, "prompt": task.params.get("prompt"),
            "seconds": str(task.params.get("seconds") or "4"), "size": task.params.get("size") or "720x1280",
            "remixed_from_video_id": None, "error": error}


def user_task(session: Session, user_id: int, task_id: str) -> MediaTask:
    """The caller's own, not deleted task; anyone else's is a 404."""
    task = session.exec(select(MediaTask).where(MediaTask.task_id == task_id, MediaTask.user_id == user_id,
                                                col(MediaTask.deleted_at).is_(None))).first()
    if task is None:
        raise NotFound(f"no video with id '{task_id}'", param="video_id", code="video_not_found")
    return task


def list_tasks(session: Session, user_id: int, *, after: str | None = None, limit: int = 20,
               order: str = "desc") -> tuple[list[MediaTask], bool]:
    query = select(MediaTask).where(MediaTask.user_id == user_id, col(MediaTask.deleted_at).is_(None))
    if after:
        anchor = user_task(session, user_id, after)
        query = query.where(MediaTask.id < anchor.id if order == "desc" else MediaTask.id > anchor.id)
    query = query.order_by(MediaTask.id.desc() if order == "desc" else MediaTask.id)
    rows = list(session.exec(query.limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def finish_task(session: Session, task_id: str, status: str, *, now: datetime | None = None,
                error_code: str = "", error_message: str = "", upstream_status: str | None = None) -> bool:
    """Move an open task to a final `status`. True for the one writer that
    did it; that writer refunds a failed/cancelled/expired task's consumption
    and queues the callback."""
    assert status in FINAL_STATUSES
    now = now or utcnow()
    values: dict = {"status": status, "finished_at": now, "updated_at": now, "next_poll_at": None,
                    "error_code": error_code[:60], "error_message": error_message[:500]}
    if upstream_status is not None:
        values["upstream_status"] = upstream_status[:60]
    if status == "completed":
        values["progress"] = 100
    won = session.exec(update(MediaTask).where(MediaTask.task_id == task_id,
                                               col(MediaTask.status).in_(OPEN_STATUSES))
                       .values(**values)).rowcount == 1
    if not won:
        return False
    task = session.exec(select(MediaTask).where(MediaTask.task_id == task_id)
                        .execution_options(populate_existing=True)).one()
    if status != "completed" and task.consumption_transaction_id is not None:
        tx = refund_consumption(session, transaction_id=task.consumption_transaction_id,
                                idempotency_key=f"refund:task:{task_id}", reference_type="task",
                                reference_id=task_id, memo=f"{task.public_model} task {status}")
        task.refund_transaction_id = tx.id
    if task.callback_url:
        task.callback_state, task.callback_next_at = "pending", now
    session.add(task)
    session.flush()
    return True


def record_progress(session: Session, task_id: str, *, status: str, upstream_status: str, progress: int,
                    now: datetime) -> None:
    """A non-final poll result (an unknown upstream status keeps the status)."""
    values: dict = {"upstream_status": upstream_status[:60], "progress": progress, "updated_at": now}
    if status in OPEN_STATUSES:
        values["status"] = status
    session.exec(update(MediaTask).where(MediaTask.task_id == task_id,
                                         col(MediaTask.status).in_(OPEN_STATUSES)).values(**values))


def claim_poll(session: Session, task: MediaTask, now: datetime) -> bool:
    """Take this task's next poll (one poller per due time)."""
    return session.exec(update(MediaTask).where(
        MediaTask.id == task.id, MediaTask.poll_count == task.poll_count,
        col(MediaTask.status).in_(OPEN_STATUSES)).values(
        poll_count=task.poll_count + 1, last_polled_at=now,
        next_poll_at=now + poll_delay(task.poll_count + 1))).rowcount == 1


def due_for_poll(session: Session, now: datetime, limit: int = 100) -> list[MediaTask]:
    return list(session.exec(select(MediaTask).where(
        col(MediaTask.status).in_(OPEN_STATUSES), MediaTask.next_poll_at <= now,
        MediaTask.expires_at > now).order_by(MediaTask.next_poll_at).limit(limit)))


def stale_task_ids(session: Session, now: datetime, limit: int = 500) -> list[str]:
    return list(session.exec(select(MediaTask.task_id).where(
        col(MediaTask.status).in_(OPEN_STATUSES), MediaTask.expires_at <= now).limit(limit)))


def task_story(session: Session, *, user_id: int | None, task_id: str) -> dict:
    """One task with its usage rows, ledger movements and callback attempts."""
    query = select(MediaTask).where(MediaTask.task_id == task_id)
    if user_id is not None:
        query = query.where(MediaTask.user_id == user_id)
    task = session.exec(query).first()
    if task is None:
        raise NotFound(f"no task with id {task_id}", param="task_id")
    usage = session.exec(select(UsageRecord).where(UsageRecord.task_id == task_id)
                         .order_by(UsageRecord.id)).all()
    attempts = session.exec(select(TaskCallbackAttempt).where(TaskCallbackAttempt.task_id == task_id)
                            .order_by(TaskCallbackAttempt.attempt_no)).all()
    return {
        "task": task.model_dump(exclude={"hold_id"}), "video": video_object(task),
        "usage": [u.model_dump() for u in usage],
        "ledger": ledger_movements(session, user_id=task.user_id, reference_ids=[task_id]),
        "callbacks": [a.model_dump() for a in attempts],
    }
