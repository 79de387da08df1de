"""Ledger and retention jobs. Each takes `now` (from apiany.jobs.clock),
works in batches of APIANY_JOB_BATCH_SIZE, one DB transaction per batch, and
is idempotent: running it twice, or next to live traffic, changes nothing
more than running it once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from apiany import ledger
from apiany.core.db import session_scope
from apiany.core.settings import get_settings
from apiany.jobs.runner import Outcome
from apiany.models.jobs import JobRun
from apiany.models.usage import RequestBody
from apiany.services.alerts import raise_alert
from apiany.services.finance import month_of, previous_month, rollup_month

log = logging.getLogger("apiany.jobs")
MAX_BATCHES = 10_000  # a bound, so a row that cannot be processed never loops forever


def _in_batches(step: Callable[[Session, int], int]) -> int:
    """Call `step(session, batch)` in its own transaction until it handles
    fewer rows than a full batch; returns the total handled."""
    batch, total = get_settings().job_batch_size, 0
    for _ in range(MAX_BATCHES):
        with session_scope() as session:
            done = step(session, batch)
        total += done
        if done < batch:
            break
    return total


def expire_holds(now: datetime) -> int:
    """Release holds past their expiry (a worker crashed between reserve and
    settle/release): the credits become spendable again."""
    return _in_batches(lambda s, n: ledger.expire_holds(s, now=now, limit=n))


def expire_credits(now: datetime) -> int:
    """One expiration transaction per lot past its expiry, for what is left."""
    return _in_batches(lambda s, n: ledger.expire_lots(s, now=now, limit=n))


def _purge(model, id_col, time_col, cutoff: datetime, *where) -> int:
    """Delete `model` rows with `time_col` before `cutoff`, oldest first, in batches."""
    def step(session: Session, batch: int) -> int:
        ids = list(session.exec(select(id_col).where(time_col < cutoff, *where)
                                .order_by(time_col).limit(batch)))
        if ids:
            session.execute(delete(model).where(id_col.in_(ids)))
        return len(ids)

    return _in_batches(step)


def purge_request_bodies(now: datetime) -> int:
    """Delete stored request/response bodies older than the retention window
    (APIANY_BODY_RETENTION_DAYS). Usage rows, the ledger and finance rows are
    never touched."""
    cutoff = now - timedelta(days=get_settings().body_retention_days)
    return _purge(RequestBody, RequestBody.request_id, RequestBody.created_at, cutoff)


def purge_job_runs(now: datetime) -> int:
    """Delete job-run rows older than APIANY_JOB_RUN_RETENTION_DAYS."""
    cutoff = now - timedelta(days=get_settings().job_run_retention_days)
    return _purge(JobRun, JobRun.id, JobRun.started_at, cutoff, JobRun.status != "running")


def verify_ledger(now: datetime) -> Outcome:
    """Prove the ledger's invariants; on any problem store (or bump) an
    alert naming the accounts and log an error."""
    with session_scope() as session:
        problems = ledger.verify(session)
        if not problems:
            return Outcome(0)
        alert = raise_alert(session, kind="ledger_mismatch", source="verify_ledger",
                            summary=f"ledger verify found {len(problems)} problem(s)",
                            lines=problems, now=now)
        alert_id = alert.id
    for problem in problems[:20]:
        log.error("ledger verify: %s", problem)
    return Outcome(len(problems), f"{len(problems)} ledger problem(s), alert #{alert_id}")


def rollup_finance(now: datetime) -> int:
    """Recompute the current and the previous month's finance summaries."""
    current = month_of(now)
    rows = 0
    for month in (previous_month(current), current):
        with session_scope() as session:
            rows += len(rollup_month(session, month).rows)
    return rows
