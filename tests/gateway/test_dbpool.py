"""The SQLite group-commit executor: units queued together share one
transaction; a failing unit loses only its own work; results reach asyncio
callers; a unit whose caller gave up before it started does not run."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import text

from apiany.core.db import get_engine
from apiany.core.sqltx import SQL
from apiany.gateway.dbpool import GroupCommitExecutor, group_commit, unit_of_work

INSERT = SQL("INSERT INTO scratch (v) VALUES (:v)")


@pytest.fixture
def scratch(db_url):
    with get_engine().begin() as conn:
        conn.execute(text("CREATE TABLE scratch (v INTEGER NOT NULL)"))
    return lambda: sorted(v for (v,) in get_engine().connect().execute(text("SELECT v FROM scratch")))


@group_commit
def insert(v: int) -> int:
    with unit_of_work() as tx:
        tx.do(INSERT, {"v": v})
        return v * 10


@group_commit
def insert_then_fail(v: int) -> int:
    with unit_of_work() as tx:
        tx.do(INSERT, {"v": v})
        raise ValueError(f"unit {v} failed")


def queued_behind(executor: GroupCommitExecutor, submit):
    """Hold the executor's thread until `submit` has queued everything, so
    the queued units run as one group."""
    go = threading.Event()
    blocker = executor.submit(go.wait)
    futures = submit()
    go.set()
    blocker.result(5)
    return futures


def test_a_failing_unit_loses_only_its_own_work(scratch):
    ex = GroupCommitExecutor()
    futures = queued_behind(ex, lambda: [ex.submit(insert, 1), ex.submit(insert_then_fail, 2),
                                         ex.submit(insert, 3)])
    assert futures[0].result(5) == 10 and futures[2].result(5) == 30
    with pytest.raises(ValueError, match="unit 2 failed"):
        futures[1].result(5)
    assert scratch() == [1, 3]


def test_a_group_commits_together(scratch):
    ex = GroupCommitExecutor()
    futures = queued_behind(ex, lambda: [ex.submit(insert, v) for v in range(20)])
    assert [f.result(5) for f in futures] == [v * 10 for v in range(20)]
    assert scratch() == list(range(20))


async def test_asyncio_callers_get_results_and_cancelled_units_do_not_run(scratch):
    ex = GroupCommitExecutor()
    loop = asyncio.get_running_loop()
    go = threading.Event()
    blocker = ex.submit(go.wait)
    kept, dropped, failing = loop.create_future(), loop.create_future(), loop.create_future()
    ex.submit_async(kept, insert, (7,), {})
    ex.submit_async(dropped, insert, (8,), {})
    ex.submit_async(failing, insert_then_fail, (9,), {})
    dropped.cancel()  # the caller went away before the unit started
    go.set()
    await asyncio.wrap_future(blocker)
    assert await asyncio.wait_for(kept, 5) == 70
    with pytest.raises(ValueError, match="unit 9 failed"):
        await asyncio.wait_for(failing, 5)
    assert scratch() == [7]


def test_drain_waits_for_work_a_running_stream_will_submit(scratch):
    """A stream settles after its last byte; a client (or a test) that saw
    that byte and drains must still see the settlement."""
    import time

    from apiany.gateway import dbpool

    placeholder = dbpool.work_to_come()

    def stream_ends():
        time.sleep(0.3)
        dbpool.submit_db(insert, 5)
        placeholder.set_result(None)

    threading.Thread(target=stream_ends).start()
    dbpool.drain(5)
    assert scratch() == [5]
