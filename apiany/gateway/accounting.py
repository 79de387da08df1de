"""The gateway's database work, each function one unit of work run on the
DB thread pool: reserve before calling upstream, then settle-or-release,
the usage row, the attempts and the bodies together in one transaction."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta

from sqlmodel import update

from apiany.core.db import session_scope, utcnow
from apiany.core.events import config_changed
from apiany.core.settings import get_settings
from apiany.ledger import release, reserve, settle
from apiany.models import ApiKey, Channel, ChannelAttempt, RequestBody, UsageRecord


@dataclass(slots=True)
class AttemptDraft:
    attempt_no: int
    channel_id: int | None
    channel_name: str
    upstream_model: str
    status: str
    http_status: int | None
    latency_ms: int
    error: str = ""


@dataclass(slots=True)
class UsageDraft:
    request_id: str
    user_id: int | None = None
    api_key_id: int | None = None
    public_model: str = ""
    upstream_model: str = ""
    request_type: str = ""
    endpoint: str = ""
    stream: bool = False
    status: str = "success"
    http_status: int = 200
    latency_ms: int = 0
    ttft_ms: int | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    billed_units: int = 0
    unit_kind: str = ""
    upstream_cost: int = 0
    channel_id: int | None = None
    channel_name: str = ""
    error_type: str = ""
    error_summary: str = ""
    task_id: str | None = None
    attempts: list[AttemptDraft] = field(default_factory=list)


@dataclass(slots=True)
class HealthChange:
    channel_id: int
    healthy: bool
    error: str = ""
    latency_ms: int | None = None


def reserve_for_request(*, user_id: int, api_key_id: int, amount: int, request_id: str,
                        reference: tuple[str, str] | None = None) -> int:
    """`reference` (type, id) labels the hold and its consumption; default
    the request (async tasks use their task id)."""
    ref_type, ref_id = reference or ("request", request_id)
    with session_scope() as session:
        hold = reserve(session, user_id=user_id, amount=amount, idempotency_key=f"hold:{request_id}",
                       api_key_id=api_key_id, reference_type=ref_type, reference_id=ref_id,
                       ttl_seconds=get_settings().hold_ttl_seconds)
        return hold.id


def finalize_request(draft: UsageDraft, *, hold_id: int | None, charge: int,
                     bodies: tuple[str, str] | None = None,
                     health: list[HealthChange] | None = None, then=None) -> int:
    """Settle `charge` (0 releases) and write everything about the request.
    Returns the credits actually charged (what the usage row says).
    `then(session, hold)` runs last in the same transaction (async tasks
    record themselves there)."""
    with session_scope() as session:
        charged = 0
        if hold_id is not None:
            if charge > 0:
                settle(session, hold_id, amount=charge, memo=f"{draft.public_model} {draft.endpoint}")
                from apiany.models import Hold

                charged = session.get(Hold, hold_id).settled_amount
            else:
                release(session, hold_id)
        data = asdict(draft)
        attempts = data.pop("attempts")
        session.add(UsageRecord(**data, credits_charged=charged, attempt_count=len(attempts)))
        for attempt in attempts:
            session.add(ChannelAttempt(request_id=draft.request_id, **attempt))
        if bodies is not None:
            session.add(RequestBody(request_id=draft.request_id, user_id=draft.user_id,
                                    request_body=bodies[0], response_body=bodies[1]))
        if draft.api_key_id is not None:
            session.exec(update(ApiKey).where(ApiKey.id == draft.api_key_id).values(last_used_at=utcnow()))
        for change in health or ():
            _apply_health(session, change)
        if then is not None and hold_id is not None:
            from apiany.models import Hold

            then(session, session.get(Hold, hold_id))
        return charged


def _apply_health(session, change: HealthChange) -> None:
    now = utcnow()
    values: dict = {"healthy": change.healthy, "last_checked_at": now}
    if change.healthy:
        values.update(consecutive_failures=0, unhealthy_until=None, last_error="")
    else:
        cooldown = get_settings().channel_cooldown_seconds
        values.update(unhealthy_until=now + timedelta(seconds=cooldown), last_error=change.error[:500],
                      consecutive_failures=Channel.consecutive_failures + 1)
    if change.latency_ms is not None:
        values["last_latency_ms"] = change.latency_ms
    session.exec(update(Channel).where(Channel.id == change.channel_id).values(**values))
    config_changed("catalog", str(change.channel_id), session)
