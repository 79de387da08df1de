"""Running one job once: take its lease, write a job-run row, call it, record
the outcome, give the lease back. The scheduler, `python -m apiany jobs run`
and the admin "run now" all come through `run_job`.

Exactly once per cluster: a job's `JobLease` row is taken with one atomic
UPDATE (holder and expiry; only when free, expired or already ours). A
scheduled run also claims its *slot* (the interval it is due in, aligned on
the epoch) in the same UPDATE, and `job_runs` has a unique (job, slot_at), so
N schedulers firing for the same slot execute it once; the others skip
without writing a row. Manual runs claim no slot but still respect the
lease, so they never overlap a scheduled run.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from apiany.core.db import session_scope
from apiany.core.settings import get_settings
from apiany.jobs import clock
from apiany.models.jobs import JobLease, JobRun

log = logging.getLogger("apiany.jobs")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a job may return instead of a plain count: a warning makes the
    run's status "warning" (e.g. verify_ledger found problems)."""

    items: int = 0
    warning: str = ""


@dataclass(slots=True)
class JobResult:
    job: str
    status: str  # success | warning | error | skipped | not installed
    items: int = 0
    error: str = ""
    run_id: int | None = None

    def __str__(self) -> str:
        text = f"{self.job}: {self.status}, {self.items} item(s)"
        if self.run_id is not None:
            text += f" (run #{self.run_id})"
        return text + (f": {self.error}" if self.error else "")


def default_holder(role: str) -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def slot_of(moment: datetime, interval_seconds: int) -> datetime:
    """Start of the interval `moment` falls in, counted from the epoch."""
    elapsed = int((clock.as_utc(moment) - EPOCH).total_seconds())
    return EPOCH + timedelta(seconds=elapsed - elapsed % interval_seconds)


def _ensure_lease_row(session, name: str, now: datetime) -> None:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(JobLease.__table__).values(name=name, updated_at=now)
                    .on_conflict_do_nothing(index_elements=["name"]))


def acquire(name: str, holder: str, now: datetime, *, slot: datetime | None = None,
            ttl_seconds: int | None = None) -> bool:
    """Take `name`'s lease (and claim `slot`) atomically; False when another
    holder has it, or the slot was already claimed."""
    ttl = ttl_seconds or get_settings().job_lease_seconds
    conditions = [JobLease.name == name,
                  or_(JobLease.holder.is_(None), JobLease.expires_at.is_(None),
                      JobLease.expires_at < now, JobLease.holder == holder)]
    values: dict = {"holder": holder, "expires_at": now + timedelta(seconds=ttl),
                    "updated_at": now}
    if slot is not None:
        conditions.append(or_(JobLease.slot_at.is_(None), JobLease.slot_at < slot))
        values["slot_at"] = slot
    with session_scope() as session:
        _ensure_lease_row(session, name, now)
        result = session.execute(update(JobLease).where(*conditions).values(**values))
        return result.rowcount == 1


def release(name: str, holder: str) -> None:
    with session_scope() as session:
        session.execute(update(JobLease)
                        .where(JobLease.name == name, JobLease.holder == holder)
                        .values(holder=None, expires_at=None, updated_at=clock.now()))


def _start_row(name: str, trigger: str, holder: str, slot: datetime | None,
               now: datetime) -> int | None:
    try:
        with session_scope() as session:
            # We hold the lease: any other run still "running" lost it (its
            # process died), so it will never finish.
            session.execute(update(JobRun).where(JobRun.job == name, JobRun.status == "running")
                            .values(status="abandoned", finished_at=now,
                                    error="its worker stopped before the run finished"))
            run = JobRun(job=name, trigger=trigger, holder=holder, slot_at=slot, started_at=now)
            session.add(run)
            session.flush()
            return run.id
    except IntegrityError:  # this slot already ran (a lease expired mid-run, ...)
        return None


def _finish_row(run_id: int, status: str, items: int, error: str) -> None:
    with session_scope() as session:
        session.execute(update(JobRun).where(JobRun.id == run_id).values(
            status=status, items=items, error=error, finished_at=clock.now()))


def _items(value: object) -> Outcome:
    if isinstance(value, Outcome):
        return value
    if isinstance(value, bool) or value is None:
        return Outcome()
    if isinstance(value, int):
        return Outcome(value)
    if isinstance(value, list | tuple | set | dict):
        return Outcome(len(value))
    return Outcome(int(getattr(value, "items", 0) or 0))


def run_job(name: str, func: Callable[[datetime], object], *, trigger: str, holder: str,
            slot: datetime | None = None) -> JobResult:
    now = clock.now()
    if not acquire(name, holder, now, slot=slot):
        reason = "this slot already ran" if slot is not None else "another run holds the lease"
        return JobResult(name, "skipped", error=reason)
    try:
        run_id = _start_row(name, trigger, holder, slot, now)
        if run_id is None:
            return JobResult(name, "skipped", error="this slot already ran")
        try:
            outcome = _items(func(now))
            status, error = ("warning", outcome.warning) if outcome.warning else ("success", "")
        except Exception as exc:  # a job's failure is recorded, never raised to the scheduler
            log.exception("job %s failed", name)
            outcome, status = Outcome(), "error"
            error = f"{type(exc).__name__}: {exc}"[:2000]
        _finish_row(run_id, status, outcome.items, error)
        if status == "warning":
            log.error("job %s: %s", name, error)
        return JobResult(name, status, outcome.items, error, run_id)
    finally:
        release(name, holder)
