"""Internal jobs (leases, runs, alerts) and the monthly finance summaries.

- `JobLease`: one row per job; whoever holds an unexpired lease runs it, and
  `slot_at` records the last scheduled slot claimed, so with N schedulers
  each due run executes once (see apiany/jobs/runner.py).
- `JobRun`: one row per execution (scheduled, CLI or admin "run now").
- `Alert`: something an operator must look at (a ledger mismatch, ...).
- `FinanceSummary`: one row per UTC month x scope (total / model / channel);
  money in micro-units (1e-6) of the reporting currency, credits in units.
  Kept forever, recomputed idempotently by `services.finance.rollup_month`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from apiany.core.db import utcnow


def _big(default: int | None = 0, nullable: bool = False):
    return Field(default=default, sa_column=Column(BigInteger, nullable=nullable, default=default))


class JobLease(SQLModel, table=True):
    __tablename__ = "job_leases"
    name: str = Field(primary_key=True, max_length=60)
    holder: str | None = Field(default=None, max_length=200)
    expires_at: datetime | None = None
    slot_at: datetime | None = None  # the last scheduled slot claimed
    updated_at: datetime = Field(default_factory=utcnow)


class JobRun(SQLModel, table=True):
    __tablename__ = "job_runs"
    __table_args__ = (
        # A scheduled slot runs at most once, whatever the lease says.
        UniqueConstraint("job", "slot_at", name="uq_job_runs_job_slot"),
        Index("ix_job_runs_job_started", "job", "started_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=60)
    trigger: str = Field(default="schedule", max_length=20)  # schedule | cli | admin | test
    holder: str = Field(default="", max_length=200)
    slot_at: datetime | None = None  # set for scheduled runs only
    # running | success | warning | error | abandoned (its worker died mid-run)
    status: str = Field(default="running", max_length=20)
    items: int = Field(default=0)
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class Alert(SQLModel, table=True):
    """An open alert is bumped (`last_seen_at`, `occurrences`) while the same
    problem persists; a different problem opens a new one."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_kind_open", "kind", "resolved_at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)  # ledger_mismatch | ...
    source: str = Field(default="", max_length=60)  # the job that raised it
    fingerprint: str = Field(max_length=64, index=True)
    summary: str = Field(max_length=500)
    details: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    subjects: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    occurrences: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None


class FinanceSummary(SQLModel, table=True):
    __tablename__ = "finance_summaries"
    __table_args__ = (UniqueConstraint("month", "scope", "key", name="uq_finance_month_scope_key"),)
    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(max_length=7, index=True)  # YYYY-MM, UTC
    scope: str = Field(max_length=10)  # total | model | channel
    key: str = Field(default="", max_length=200)  # "" for total, else model id / channel name
    currency: str = Field(default="usd", max_length=3)  # reporting currency of the *_micro figures
    requests: int = Field(default=0)
    credits_consumed: int = _big()  # units, net of refunds
    credits_purchased: int = _big()  # ...drawn from paid lots
    credits_free: int = _big()  # ...drawn from free lots (grants, adjustments)
    revenue_micro: int = _big()  # purchased credits consumed x their lot's unit price
    cash_paid_micro: int = _big()  # total row only: paid orders
    cash_refunded_micro: int = _big()  # total row only: refunds
    upstream_cost_micro: int = _big()
    gross_margin_micro: int = _big()  # revenue - upstream cost
    margin_bp: int | None = None  # gross margin / revenue in basis points (None: no revenue)
    # Figures in other currencies than `currency` (never converted).
    other_currencies: dict[str, Any] = Field(default_factory=dict,
                                             sa_column=Column(JSON, nullable=False))
    computed_at: datetime = Field(default_factory=utcnow)
