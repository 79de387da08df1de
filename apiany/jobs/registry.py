"""Every internal job: name -> where its function lives and how often it runs.

A job function takes `now` (from apiany.jobs.clock) and returns how many
items it handled (or a runner.Outcome). Jobs that belong to other modules
(media tasks, payments) are imported lazily: when their module or function
is missing the job is "not installed", shown as such and never scheduled.
Intervals can be overridden with APIANY_JOB_INTERVALS (JSON, seconds).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import select

from apiany.core.db import session_scope
from apiany.core.errors import NotFound
from apiany.core.settings import get_settings
from apiany.jobs.runner import JobResult, default_holder, run_job
from apiany.models.jobs import JobRun

JobFunc = Callable[[datetime], object]
log = logging.getLogger("apiany.jobs")


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    target: str  # "module:function"
    interval: int  # seconds
    description: str


_SPECS = (
    JobSpec("expire_holds", "apiany.jobs.maintenance:expire_holds", 60,
            "release credit holds past their expiry (crashed requests)"),
    JobSpec("expire_credits", "apiany.jobs.maintenance:expire_credits", 300,
            "write expiration transactions for lots past their expiry"),
    JobSpec("purge_request_bodies", "apiany.jobs.maintenance:purge_request_bodies", 3600,
            "delete request/response bodies older than the retention window"),
    JobSpec("purge_job_runs", "apiany.jobs.maintenance:purge_job_runs", 86400,
            "delete job-run history older than its retention"),
    JobSpec("verify_ledger", "apiany.jobs.maintenance:verify_ledger", 3600,
            "prove the ledger invariants; alert on any mismatch"),
    JobSpec("check_channels", "apiany.jobs.channels:check_channels", 60,
            "probe enabled channels, mark unhealthy / recovered"),
    JobSpec("rollup_finance", "apiany.jobs.maintenance:rollup_finance", 900,
            "recompute this and last month's finance summaries"),
    JobSpec("poll_media_tasks", "apiany.jobs.media_tasks:poll_media_tasks", 10,
            "poll pending async media tasks (with backoff)"),
    JobSpec("expire_stale_tasks", "apiany.jobs.media_tasks:expire_stale_tasks", 60,
            "fail and refund tasks past their maximum age"),
    JobSpec("deliver_callbacks", "apiany.jobs.media_tasks:deliver_callbacks", 15,
            "deliver task callbacks, with retries"),
    JobSpec("reconcile_orders", "apiany.services.payments.reconcile:reconcile_orders", 300,
            "ask the payment provider about orders pending too long"),
)
JOBS: dict[str, JobSpec] = {spec.name: spec for spec in _SPECS}


def interval_of(name: str) -> int:
    override = get_settings().job_intervals.get(name)
    return max(1, int(override)) if override else JOBS[name].interval


def _adapt(fn: Callable) -> JobFunc:
    """Call `fn` with what it asks for (`now`, a `session`), awaiting it when
    it is a coroutine function."""
    params = inspect.signature(fn).parameters

    def call(now: datetime) -> object:
        kwargs = {"now": now} if "now" in params else {}
        if "session" in params:
            with session_scope() as session:
                result = fn(session=session, **kwargs)
        else:
            result = fn(**kwargs)
        return asyncio.run(result) if inspect.isawaitable(result) else result

    return call


def resolve(name: str) -> JobFunc | None:
    """The callable for job `name`, or None when its module is missing."""
    module_name, _, attr = JOBS[name].target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a broken module must not stop the other jobs (or the app)
        absent = isinstance(exc, ModuleNotFoundError) and module_name.startswith(exc.name or "?")
        if not absent:
            log.exception("job %s cannot be imported", name)
        return None
    fn = getattr(module, attr, None)
    if fn is None:
        return None
    return fn if module_name.startswith("apiany.jobs.") else _adapt(fn)


def installed() -> dict[str, JobFunc]:
    return {name: fn for name in JOBS if (fn := resolve(name)) is not None}


def run_job_now(name: str, *, trigger: str = "cli", holder: str | None = None) -> JobResult:
    """Run one job now (CLI, admin "run now"), through the same runner as the
    scheduler: it waits for no slot but never overlaps a running instance."""
    if name not in JOBS:
        raise NotFound(f"no job named {name!r}; known jobs: {', '.join(JOBS)}", param="name")
    fn = resolve(name)
    if fn is None:
        return JobResult(name, "not installed", error=f"{JOBS[name].target} is not available")
    return run_job(name, fn, trigger=trigger, holder=holder or default_holder(trigger))


@dataclass(slots=True)
class JobInfo:
    spec: JobSpec
    interval: int
    installed: bool
    last: JobRun | None
    runs: int


def list_jobs() -> list[JobInfo]:
    """Each job with its interval and its latest run (for CLI and admin)."""
    with session_scope(readonly=True) as session:
        latest = (select(JobRun.job, func.max(JobRun.id).label("id"), func.count().label("n"))
                  .group_by(JobRun.job).subquery())
        rows = session.exec(select(JobRun, latest.c.n).join(latest, latest.c.id == JobRun.id)).all()
        last = {run.job: (run, n) for run, n in rows}
    return [JobInfo(spec, interval_of(name), resolve(name) is not None,
                    *last.get(name, (None, 0))) for name, spec in JOBS.items()]


def print_jobs() -> None:
    infos = list_jobs()
    print(f"{'job':<22}{'every':>7}  {'last run (UTC)':<20}{'status':<15}{'items':>7}  runs")
    for info in infos:
        every = f"{info.interval}s"
        if not info.installed:
            print(f"{info.spec.name:<22}{every:>7}  {'-':<20}{'not installed':<15}{'':>7}  -")
            continue
        run = info.last
        when = run.started_at.strftime("%Y-%m-%d %H:%M:%S") if run else "never"
        status = run.status if run else "-"
        items = str(run.items) if run else ""
        line = f"{info.spec.name:<22}{every:>7}  {when:<20}{status:<15}{items:>7}  {info.runs}"
        if run and run.error:
            line += f"  {run.error.splitlines()[0][:80]}"
        print(line)
