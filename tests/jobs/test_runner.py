"""The lease, the slot claim and the job-run rows: each due run executes once
however many schedulers fire for it (SQLite here, PostgreSQL in
test_scheduler_cluster.py); manual runs never overlap a running one."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from apiany.core.db import session_scope, utcnow
from apiany.core.errors import NotFound
from apiany.jobs import clock, registry
from apiany.jobs.registry import JobSpec, run_job_now
from apiany.jobs.runner import acquire, release, run_job, slot_of
from apiany.models import JobLease, JobRun


def boom(now):
    raise RuntimeError("upstream on fire")


def test_lease_is_exclusive_until_it_expires(db_url):
    t0 = utcnow()
    assert acquire("j", "a", t0, ttl_seconds=60)
    assert acquire("j", "a", t0, ttl_seconds=60)  # re-entrant for its holder
    assert not acquire("j", "b", t0 + timedelta(seconds=59), ttl_seconds=60)
    assert acquire("j", "b", t0 + timedelta(seconds=61), ttl_seconds=60)  # a crashed: taken over
    release("j", "a")  # no longer a's: no effect
    assert not acquire("j", "a", t0 + timedelta(seconds=62))
    release("j", "b")
    assert acquire("j", "a", t0 + timedelta(seconds=63))
    with session_scope() as s:
        assert s.get(JobLease, "j").holder == "a"


def test_a_slot_runs_once_and_the_next_slot_runs_again(db_url):
    t0 = utcnow()
    calls = []
    slot = slot_of(t0, 60)
    assert slot <= t0 < slot + timedelta(seconds=60)
    with clock.frozen(t0):
        first = run_job("j", calls.append, trigger="schedule", holder="a", slot=slot)
        second = run_job("j", calls.append, trigger="schedule", holder="b", slot=slot)
        again = run_job("j", calls.append, trigger="schedule", holder="a", slot=slot)
    assert (first.status, second.status, again.status) == ("success", "skipped", "skipped")
    with clock.frozen(t0 + timedelta(seconds=60)):
        later = run_job("j", calls.append, trigger="schedule", holder="b",
                        slot=slot + timedelta(seconds=60))
    assert later.status == "success" and len(calls) == 2
    with session_scope() as s:
        runs = s.exec(select(JobRun).order_by(JobRun.id)).all()
    assert [(r.holder, clock.as_utc(r.slot_at)) for r in runs] == [
        ("a", slot), ("b", slot + timedelta(seconds=60))]


def test_concurrent_manual_run_is_skipped_not_overlapped(db_url):
    started, finish = threading.Event(), threading.Event()

    def slow(now):
        started.set()
        finish.wait(10)
        return 3

    results = []
    worker = threading.Thread(target=lambda: results.append(
        run_job("j", slow, trigger="schedule", holder="sched")))
    worker.start()
    assert started.wait(10)
    busy = run_job("j", slow, trigger="cli", holder="cli")
    finish.set()
    worker.join(10)
    assert busy.status == "skipped" and "lease" in busy.error
    assert results[0].status == "success" and results[0].items == 3
    assert run_job("j", lambda now: 0, trigger="cli", holder="cli").status == "success"


def test_failure_is_recorded_and_the_lease_released(db_url, monkeypatch):
    monkeypatch.setitem(registry.JOBS, "boom", JobSpec("boom", f"{__name__}:boom", 60, "fails"))
    result = run_job_now("boom", trigger="test")
    assert result.status == "error" and "upstream on fire" in result.error
    with session_scope() as s:
        run = s.get(JobRun, result.run_id)
        assert run.status == "error" and "RuntimeError" in run.error and run.finished_at
        assert s.get(JobLease, "boom").holder is None


def test_unknown_and_missing_jobs(db_url, monkeypatch):
    with pytest.raises(NotFound):
        run_job_now("nope")
    monkeypatch.setitem(registry.JOBS, "ghost", JobSpec("ghost", "apiany.no_such_module:f", 60, ""))
    assert run_job_now("ghost").status == "not installed"
    assert "ghost" not in registry.installed()
    info = {i.spec.name: i for i in registry.list_jobs()}
    assert not info["ghost"].installed and info["expire_holds"].installed


def test_a_run_whose_worker_died_is_marked_abandoned(db_url):
    t0 = utcnow()
    with session_scope() as s:
        s.add(JobRun(job="j", holder="dead", status="running", started_at=t0))
    assert acquire("j", "dead", t0, ttl_seconds=60)  # ...and then it crashed
    with clock.frozen(t0 + timedelta(seconds=61)):
        assert run_job("j", lambda now: 1, trigger="schedule", holder="b").status == "success"
    with session_scope() as s:
        statuses = [r.status for r in s.exec(select(JobRun).order_by(JobRun.id))]
    assert statuses == ["abandoned", "success"]
