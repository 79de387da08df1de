"""Ledger and retention jobs with moved time, through the same runner as the
scheduler and the CLI (each run leaves a job-run row)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlmodel import func, select

from apiany.core.db import get_engine, session_scope, utcnow
from apiany.core.money import UNITS_PER_CREDIT as CREDIT
from apiany.jobs import clock
from apiany.jobs.registry import run_job_now
from apiany.ledger import balance_of, grant_credits, reserve, settle, verify
from apiany.models import (
    Alert,
    CreditLot,
    Hold,
    JobRun,
    LedgerEntry,
    LedgerTransaction,
    RequestBody,
    UsageRecord,
)
from tests.factories import make_user


def _run(name: str, at):
    with clock.frozen(at):
        result = run_job_now(name, trigger="test")
    assert result.status in ("success", "warning"), result
    return result


def test_expire_holds_releases_abandoned_holds_once(any_db_url):
    user = make_user(credits=10)
    t0 = utcnow()
    with session_scope() as s:
        hold_id = reserve(s, user_id=user.id, amount=3 * CREDIT, idempotency_key="h1",
                          ttl_seconds=600, now=t0).id
        reserve(s, user_id=user.id, amount=2 * CREDIT, idempotency_key="h2", ttl_seconds=3600, now=t0)
    assert _run("expire_holds", t0 + timedelta(minutes=5)).items == 0
    assert _run("expire_holds", t0 + timedelta(minutes=11)).items == 1
    assert _run("expire_holds", t0 + timedelta(minutes=12)).items == 0
    with session_scope() as s:
        view = balance_of(s, user.id)
        assert (view.balance, view.held) == (10 * CREDIT, 2 * CREDIT)
        assert s.get(Hold, hold_id).status == "expired"
        assert verify(s) == []
        runs = s.exec(select(JobRun).where(JobRun.job == "expire_holds").order_by(JobRun.id)).all()
    assert [(r.status, r.items, r.trigger) for r in runs] == [
        ("success", 0, "test"), ("success", 1, "test"), ("success", 0, "test")]
    assert all(r.finished_at is not None for r in runs)


def test_expire_credits_writes_exact_expirations(any_db_url, monkeypatch):
    monkeypatch.setenv("APIANY_JOB_BATCH_SIZE", "1")  # several batches
    from apiany.core.settings import reset_settings

    reset_settings()
    user = make_user()
    t0 = utcnow()
    with session_scope() as s:
        for i, (credits, days) in enumerate([(5, 1), (7, 2), (11, None)]):
            grant_credits(s, user_id=user.id, amount=credits * CREDIT, kind="grant",
                          idempotency_key=f"g{i}", expires_at=t0 + timedelta(days=days) if days else None)
        # Spend 3 credits: drawn from the lot expiring first (5 -> 2 left).
        hold = reserve(s, user_id=user.id, amount=3 * CREDIT, idempotency_key="spend")
        settle(s, hold.id, amount=3 * CREDIT)
    assert _run("expire_credits", t0 + timedelta(hours=12)).items == 0
    assert _run("expire_credits", t0 + timedelta(days=3)).items == 2
    assert _run("expire_credits", t0 + timedelta(days=4)).items == 0
    with session_scope() as s:
        expirations = s.exec(
            select(LedgerTransaction.reference_id, LedgerEntry.amount)
            .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
            .where(LedgerTransaction.kind == "expiration", LedgerEntry.amount < 0)
            .order_by(LedgerTransaction.id)).all()
        lots = s.exec(select(CreditLot).order_by(CreditLot.id)).all()
        assert [amount for _, amount in expirations] == [-2 * CREDIT, -7 * CREDIT]
        assert [ref for ref, _ in expirations] == [str(lots[0].id), str(lots[1].id)]
        assert [lot.remaining for lot in lots] == [0, 0, 11 * CREDIT]
        assert balance_of(s, user.id).balance == 11 * CREDIT
        assert verify(s) == []


def _body(request_id: str, created_at) -> None:
    with session_scope() as s:
        s.add(UsageRecord(request_id=request_id, public_model="m", credits_charged=5,
                          created_at=created_at))
        s.add(RequestBody(request_id=request_id, request_body="{}", response_body="{}",
                          created_at=created_at))


def test_purge_request_bodies_only_past_the_window(any_db_url, monkeypatch):
    monkeypatch.setenv("APIANY_BODY_RETENTION_DAYS", "30")
    monkeypatch.setenv("APIANY_JOB_BATCH_SIZE", "2")
    from apiany.core.settings import reset_settings

    reset_settings()
    t0 = utcnow()
    for i in range(5):
        _body(f"old{i}", t0 - timedelta(days=31 + i))
    _body("edge", t0 - timedelta(days=29, hours=23))
    _body("new", t0)
    assert _run("purge_request_bodies", t0).items == 5
    with session_scope() as s:
        left = set(s.exec(select(RequestBody.request_id)))
        assert left == {"edge", "new"}
        assert s.exec(select(func.count()).select_from(UsageRecord)).one() == 7
    assert _run("purge_request_bodies", t0 + timedelta(hours=2)).items == 1  # "edge" aged out
    assert _run("purge_request_bodies", t0 + timedelta(hours=3)).items == 0


def test_verify_ledger_raises_an_alert_after_a_row_is_altered(any_db_url):
    user = make_user(credits=10)
    t0 = utcnow()
    assert _run("verify_ledger", t0).status == "success"
    with session_scope() as s:
        assert s.exec(select(func.count()).select_from(Alert)).one() == 0
    with get_engine().begin() as conn:  # tamper: a cached balance no longer matches its entries
        conn.execute(text("UPDATE ledger_accounts SET balance = balance + 1 WHERE user_id = :u"),
                     {"u": user.id})
    result = _run("verify_ledger", t0 + timedelta(hours=1))
    assert result.status == "warning" and result.items >= 1 and "alert #" in result.error
    again = _run("verify_ledger", t0 + timedelta(hours=2))
    assert again.status == "warning"
    with session_scope() as s:
        alerts = s.exec(select(Alert)).all()
        assert len(alerts) == 1  # the same problem bumps the open alert
        alert = alerts[0]
        assert alert.kind == "ledger_mismatch" and alert.occurrences == 2
        assert f"user:{user.id}" in alert.subjects
        assert "cached balance" in alert.details
        run = s.exec(select(JobRun).where(JobRun.id == result.run_id)).one()
        assert run.status == "warning" and run.error.startswith(f"{result.items} ledger problem")


def test_purge_job_runs_keeps_recent_history(any_db_url):
    t0 = utcnow()
    with session_scope() as s:
        s.add(JobRun(job="x", status="success", started_at=t0 - timedelta(days=31)))
        s.add(JobRun(job="x", status="running", started_at=t0 - timedelta(days=40)))
        s.add(JobRun(job="x", status="success", started_at=t0 - timedelta(days=29)))
    assert _run("purge_job_runs", t0).items == 1
    with session_scope() as s:
        # the two kept, plus this run's own row
        assert s.exec(select(func.count()).select_from(JobRun)).one() == 3
