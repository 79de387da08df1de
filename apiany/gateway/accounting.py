"""The gateway's database work, each function one unit of work run on the
DB thread pool: reserve before calling upstream, then the usage row, the
attempts, the bodies and settle-or-release together in one transaction.
Core statements and the ledger's fast path (ledger/fastpath.py): the ORM
costs several milliseconds of CPU per request here. Settling comes last,
so the account and key rows are locked only for the end of the
transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import update

from apiany.core.db import utcnow
from apiany.core.events import config_changed
from apiany.core.settings import get_settings
from apiany.gateway.dbpool import group_commit, unit_of_work
from apiany.ledger import release_hold, reserve_hold, settle_hold
from apiany.core.sqltx import SQL, Tx
from apiany.models import Channel


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


@group_commit
def reserve_for_request(*, user_id: int, api_key_id: int, amount: int, request_id: str,
                        reference: tuple[str, str] | None = None) -> int:
    """`reference` (type, id) labels the hold and its consumption; default
    the request (async tasks use their task id)."""
    ref_type, ref_id = reference or ("request", request_id)
    with unit_of_work() as tx:
        return reserve_hold(tx, user_id=user_id, amount=amount,
                            idempotency_key=f"hold:{request_id}", api_key_id=api_key_id,
                            reference_type=ref_type, reference_id=ref_id,
                            ttl_seconds=get_settings().hold_ttl_seconds)


@group_commit
def finalize_request(draft: UsageDraft, *, hold_id: int | None, charge: int,
                     bodies: tuple[str, str] | None = None,
                     health: list[HealthChange] | None = None, then=None) -> int:
    """Settle `charge` (0 releases) and write everything about the request.
    Returns the credits actually charged (what the usage row says).
    `then(session, hold)` runs last in the same transaction (async tasks
    record themselves there)."""
    data = {name: getattr(draft, name) for name in USAGE_FIELDS}
    attempts = draft.attempts
    with unit_of_work() as tx:
        stamp = tx.ts(utcnow())
        for change in health or ():
            _apply_health(tx, change)
        if attempts:
            tx.do(INSERT_ATTEMPT, [{**{n: getattr(a, n) for n in AttemptDraft.__slots__},
                                    "request_id": draft.request_id, "created_at": stamp}
                                   for a in attempts])
        if bodies is not None:
            tx.do(INSERT_BODY, dict(request_id=draft.request_id, user_id=draft.user_id,
                                    request_body=bodies[0], response_body=bodies[1], created_at=stamp))
        charged = 0
        if hold_id is not None:
            if charge > 0:
                charged = settle_hold(tx, hold_id, amount=charge,
                                      memo=f"{draft.public_model} {draft.endpoint}"[:500])
            else:
                release_hold(tx, hold_id)
        if draft.api_key_id is not None:
            # Before the usage row: its foreign key takes KEY SHARE on the key
            # row, and upgrading that behind a queued FOR UPDATE (a reserve)
            # deadlocks on PostgreSQL. After a settle the row is ours already.
            tx.do(KEY_USED, dict(now=stamp, key=draft.api_key_id))
        data.update(credits_charged=charged, attempt_count=len(attempts), created_at=stamp)
        tx.do(INSERT_USAGE, data)
        if then is not None and hold_id is not None:
            from apiany.models import Hold

            session = tx.session
            then(session, session.get(Hold, hold_id))
        return charged


USAGE_FIELDS = tuple(f for f in UsageDraft.__slots__ if f != "attempts")


def _insert(table: str, columns: list[str], **constants: str) -> SQL:
    names = columns + list(constants)
    values = [":" + c for c in columns] + list(constants.values())
    return SQL(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(values)})")


INSERT_USAGE = _insert("usage_records", [*USAGE_FIELDS,
    "credits_charged", "attempt_count", "created_at"], upstream_cost_currency="'usd'")
INSERT_ATTEMPT = _insert("channel_attempts", [*AttemptDraft.__slots__, "request_id", "created_at"])
INSERT_BODY = _insert("request_bodies", ["request_id", "user_id", "request_body", "response_body",
                                         "created_at"])
KEY_USED = SQL("UPDATE api_keys SET last_used_at = :now WHERE id = :key")


def _apply_health(tx: Tx, change: HealthChange) -> None:
    session = tx.session
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
