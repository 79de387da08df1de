"""Parallel writers, each in its own unit of work (session_scope), never
overdraw, never grant twice and never refund twice."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from ledger_helpers import add_key, add_user
from sqlmodel import func, select

from apiany.core.db import session_scope
from apiany.core.errors import InsufficientCredits, LedgerError
from apiany.core.money import UNITS_PER_CREDIT as C
from apiany.ledger import (
    debit_credits,
    grant_credits,
    refund_consumption,
    reserve,
    settle,
    system_account,
    user_account,
    verify,
)
from apiany.models.ledger import Hold, LedgerTransaction


def run_together(n: int, work) -> list:
    """Start n workers at once; each returns a value or the exception it raised."""
    barrier = threading.Barrier(n)

    def task(i):
        barrier.wait()
        try:
            return work(i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(task, range(n)))


def new_user(url: str, credits: int = 0) -> tuple[int, int]:
    with session_scope(url) as s:
        user = add_user(s)
        key = add_key(s, user, budget=1000 * C).id
        if credits:
            grant_credits(s, user_id=user, amount=credits, kind="purchase",
                          idempotency_key=f"fund-{user}", price_minor=100)
    return user, key


def test_fifty_parallel_reserve_and_settle_admit_exactly_the_affordable_ten(any_db_url):
    url = any_db_url
    user, key = new_user(url, credits=100 * C)

    def spend(i):
        with session_scope(url) as s:
            hold = reserve(s, user_id=user, amount=10 * C, idempotency_key=f"req-{i}",
                           api_key_id=key, reference_type="request", reference_id=f"req-{i}")
            tx = settle(s, hold.id, amount=10 * C)
            return tx.id

    results = run_together(50, spend)
    failures = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, InsufficientCredits) for r in failures), failures
    assert (len(results) - len(failures), len(failures)) == (10, 40)
    with session_scope(url) as s:
        account = user_account(s, user)
        assert (account.balance, account.held) == (0, 0)
        assert system_account(s, "system:consumption").balance == 100 * C
        assert s.exec(select(func.count()).select_from(Hold)
                      .where(Hold.status == "settled")).one() == 10
        assert verify(s) == []


def test_one_idempotency_key_grants_once_under_concurrency(any_db_url):
    url = any_db_url
    with session_scope(url) as s:
        user = add_user(s)  # no ledger account yet: creating it races too

    def grant(i):
        with session_scope(url) as s:
            return grant_credits(s, user_id=user, amount=5 * C, kind="purchase",
                                 idempotency_key="stripe:evt_1", price_minor=500).id

    results = run_together(12, grant)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(set(results)) == 1
    with session_scope(url) as s:
        assert user_account(s, user).balance == 5 * C
        assert s.exec(select(func.count()).select_from(LedgerTransaction)).one() == 1
        assert verify(s) == []


def test_a_consumption_is_refunded_once_by_concurrent_pollers(any_db_url):
    url = any_db_url
    user, _ = new_user(url, credits=10 * C)
    with session_scope(url) as s:
        used = debit_credits(s, user_id=user, amount=4 * C, kind="consumption",
                             idempotency_key="task-1", actor="gw", memo="", reference_type="task",
                             reference_id="task-1").id

    def refund(i):
        with session_scope(url) as s:
            return refund_consumption(s, transaction_id=used, idempotency_key=f"refund-{i}",
                                      actor="poller", memo="", reference_type="task",
                                      reference_id="task-1").id

    results = run_together(8, refund)
    errors = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, LedgerError) and "already refunded" in e.message for e in errors)
    assert len(errors) == 7
    with session_scope(url) as s:
        assert user_account(s, user).balance == 10 * C
        assert verify(s) == []
