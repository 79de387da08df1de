"""Two scheduler instances against one database: each due run executes once
(counted in job_runs). PostgreSQL (the multi-instance case) and SQLite."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from apiany.core.db import session_scope, utcnow
from apiany.core.settings import reset_settings
from apiany.jobs import clock
from apiany.jobs.scheduler import JobScheduler
from apiany.models import JobRun


@pytest.fixture(params=["sqlite", "postgres"])
def cluster_db(request, monkeypatch):
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")
    monkeypatch.setenv("APIANY_JOB_INTERVALS", '{"expire_holds": 60, "expire_credits": 1}')
    reset_settings()
    return url


def _runs(job: str) -> list[JobRun]:
    with session_scope() as s:
        return list(s.exec(select(JobRun).where(JobRun.job == job).order_by(JobRun.id)))


def test_two_instances_ticking_together_run_each_slot_once(cluster_db):
    a, b = JobScheduler(holder="instance-a"), JobScheduler(holder="instance-b")
    t0 = utcnow().replace(second=0, microsecond=0)
    for minute in range(4):
        clock.set(t0 + timedelta(minutes=minute, seconds=1))
        for _ in range(2):  # each instance fires twice for the slot (a retry, a late trigger)
            barrier = threading.Barrier(2)
            results = []

            def fire(inst):
                barrier.wait()
                results.append(inst.tick("expire_holds").status)

            threads = [threading.Thread(target=fire, args=(i,)) for i in (a, b)]
            [t.start() for t in threads]
            [t.join(30) for t in threads]
    clock.set(None)
    runs = _runs("expire_holds")
    assert len(runs) == 4
    assert [clock.as_utc(r.slot_at) for r in runs] == [t0 + timedelta(minutes=m) for m in range(4)]
    assert all(r.status == "success" for r in runs)


def test_two_real_schedulers_share_the_work(cluster_db):
    a = JobScheduler(["expire_credits"], holder="real-a", first_run_delay=0.05).start()
    b = JobScheduler(["expire_credits"], holder="real-b", first_run_delay=0.05).start()
    try:
        time.sleep(3.3)
    finally:
        a.shutdown(wait=True)
        b.shutdown(wait=True)
    runs = _runs("expire_credits")
    slots = [r.slot_at for r in runs]
    assert 2 <= len(runs) <= 5
    assert len(set(slots)) == len(slots)  # never twice for one slot
    assert all(r.status == "success" and r.finished_at for r in runs)
