"""Two-phase spending: reserve, settle (partial, over the estimate, zero),
release, hold expiry, API key budgets."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from ledger_helpers import sqlite_only
from sqlmodel import func, select

from apiany.core.errors import IdempotencyMismatch, InsufficientCredits, LedgerError
from apiany.core.money import UNITS_PER_CREDIT as C
from apiany.ledger import (
    balance_of,
    expire_holds,
    grant_credits,
    release,
    reserve,
    settle,
    user_account,
    verify,
)
from apiany.ledger.common import db_time
from apiany.models.keys import ApiKey
from apiany.models.ledger import Hold, LedgerEntry, LedgerTransaction

T0 = datetime(2030, 1, 20, 12, 0, 0)


def count(s, model) -> int:
    return s.exec(select(func.count()).select_from(model)).one()


def fund(s, user, amount):
    grant_credits(s, user_id=user, amount=amount, kind="grant", idempotency_key=f"fund-{amount}")


def state(s, user) -> tuple[int, int]:
    acc = user_account(s, user)
    return acc.balance, acc.held


def test_partial_settle_charges_the_actual_amount_and_frees_the_rest(s, user, make_key):
    fund(s, user, 10 * C)
    key = make_key(s, user, budget=5 * C)
    hold = reserve(s, user_id=user, amount=3 * C, idempotency_key="h1", api_key_id=key.id,
                   reference_type="request", reference_id="req-1", now=T0)
    assert (hold.status, hold.amount, db_time(hold.expires_at)) == (
        "active", 3 * C, db_time(T0 + timedelta(seconds=600)))
    assert state(s, user) == (10 * C, 3 * C)
    assert (key.budget_held, balance_of(s, user).available) == (3 * C, 7 * C)
    tx = settle(s, hold.id, amount=2 * C, memo="sandbox-chat /v1/chat/completions")
    s.commit()
    assert (tx.kind, tx.idempotency_key, tx.reference_type, tx.reference_id, tx.memo) == (
        "consumption", "settle:h1", "request", "req-1", "sandbox-chat /v1/chat/completions")
    user_entry = s.exec(select(LedgerEntry).where(LedgerEntry.transaction_id == tx.id,
                                                  LedgerEntry.amount < 0)).one()
    assert (user_entry.amount, user_entry.balance_after) == (-2 * C, 8 * C)
    assert (hold.status, hold.settled_amount, hold.settle_transaction_id) == ("settled", 2 * C,
                                                                               tx.id)
    assert hold.finalized_at is not None
    assert state(s, user) == (8 * C, 0)
    assert (key.budget_held, key.budget_used) == (0, 2 * C)
    # Settling again is a no-op that returns the same transaction.
    assert settle(s, hold.id, amount=9 * C).id == tx.id
    assert release(s, hold.id).status == "settled"
    assert (count(s, LedgerTransaction), state(s, user)) == (2, (8 * C, 0))
    assert verify(s) == []


def test_settle_over_the_estimate_charges_the_excess_only_if_available(s, user):
    fund(s, user, 10 * C)
    small = reserve(s, user_id=user, amount=2 * C, idempotency_key="small")
    tx = settle(s, small.id, amount=3 * C)  # 8 C were free: the full 3 C is charged
    assert (tx is not None, small.settled_amount, state(s, user)) == (True, 3 * C, (7 * C, 0))
    h = reserve(s, user_id=user, amount=4 * C, idempotency_key="h")
    other = reserve(s, user_id=user, amount=2 * C, idempotency_key="other")
    assert balance_of(s, user).available == 1 * C
    tx = settle(s, h.id, amount=7 * C)  # 4 C held + the 1 C available, never more
    charged = -s.exec(select(LedgerEntry.amount).where(LedgerEntry.transaction_id == tx.id,
                                                       LedgerEntry.amount < 0)).one()
    assert (charged, h.settled_amount, state(s, user)) == (5 * C, 5 * C, (2 * C, 2 * C))
    settle(s, other.id, amount=6 * C)  # only its own 2 C remain
    assert (other.settled_amount, state(s, user)) == (2 * C, (0, 0))
    s.commit()
    assert verify(s) == []


def test_settle_zero_releases_but_records_settled(s, user, make_key):
    fund(s, user, 5 * C)
    key = make_key(s, user, budget=5 * C)
    hold = reserve(s, user_id=user, amount=1 * C, idempotency_key="h", api_key_id=key.id)
    assert settle(s, hold.id, amount=0) is None
    assert settle(s, hold.id, amount=0) is None
    assert (hold.status, hold.settled_amount, hold.settle_transaction_id) == ("settled", 0, None)
    assert (state(s, user), key.budget_held, key.budget_used) == ((5 * C, 0), 0, 0)
    assert count(s, LedgerTransaction) == 1
    s.commit()
    assert verify(s) == []


def test_release_is_idempotent_and_a_released_hold_cannot_be_settled(s, user, make_key):
    fund(s, user, 5 * C)
    key = make_key(s, user)
    hold = reserve(s, user_id=user, amount=4 * C, idempotency_key="h", api_key_id=key.id)
    assert key.budget_held == 4 * C  # counted even without a budget
    assert release(s, hold.id).status == "released"
    assert release(s, hold.id).status == "released"
    assert (state(s, user), key.budget_held) == ((5 * C, 0), 0)
    with pytest.raises(LedgerError, match="released"):
        settle(s, hold.id, amount=1)
    with pytest.raises(LedgerError, match="does not exist"):
        release(s, 10**6)
    s.commit()
    assert verify(s) == []


def test_expire_holds_frees_exactly_the_expired_ones(s, user, make_key):
    fund(s, user, 10 * C)
    key = make_key(s, user)
    short = reserve(s, user_id=user, amount=2 * C, idempotency_key="short", api_key_id=key.id,
                    ttl_seconds=60, now=T0)
    reserve(s, user_id=user, amount=3 * C, idempotency_key="long", ttl_seconds=600, now=T0)
    s.commit()
    assert expire_holds(s, now=T0 + timedelta(seconds=59)) == 0
    assert expire_holds(s, now=T0 + timedelta(seconds=60)) == 1
    assert expire_holds(s, now=T0 + timedelta(seconds=61)) == 0
    s.commit()
    assert (short.status, state(s, user), key.budget_held) == ("expired", (10 * C, 3 * C), 0)
    with pytest.raises(LedgerError, match="expired"):
        settle(s, short.id, amount=1)
    assert expire_holds(s, now=T0 + timedelta(hours=1)) == 1
    s.commit()
    assert state(s, user) == (10 * C, 0)
    assert verify(s) == []


def test_reserve_refuses_more_than_the_available_balance(s, user):
    fund(s, user, 5 * C)
    with pytest.raises(InsufficientCredits, match="Insufficient credits: 5 available, 6 needed"):
        reserve(s, user_id=user, amount=6 * C, idempotency_key="too-much")
    reserve(s, user_id=user, amount=5 * C, idempotency_key="all")
    with pytest.raises(InsufficientCredits, match="0 available, 0.000001 needed"):
        reserve(s, user_id=user, amount=1, idempotency_key="one-unit")
    assert count(s, Hold) == 1


def test_reserve_replay_returns_the_same_hold(s, user):
    fund(s, user, 5 * C)
    hold = reserve(s, user_id=user, amount=2 * C, idempotency_key="h", reference_id="r")
    again = reserve(s, user_id=user, amount=2 * C, idempotency_key="h", reference_id="r")
    assert (again.id, state(s, user)) == (hold.id, (5 * C, 2 * C))
    with pytest.raises(IdempotencyMismatch):
        reserve(s, user_id=user, amount=3 * C, idempotency_key="h", reference_id="r")
    settle(s, hold.id, amount=1 * C)
    # Replayed after settling (the balance no longer matters): same hold.
    assert reserve(s, user_id=user, amount=2 * C, idempotency_key="h", reference_id="r").status \
        == "settled"
    assert count(s, Hold) == 1


def test_key_budget_is_exhausted_by_used_plus_held(s, user, make_key):
    fund(s, user, 100 * C)
    key = make_key(s, user, budget=10 * C)
    first = reserve(s, user_id=user, amount=6 * C, idempotency_key="a", api_key_id=key.id)
    with pytest.raises(InsufficientCredits, match="API key budget exhausted: 4 of 10 credits left"):
        reserve(s, user_id=user, amount=5 * C, idempotency_key="b", api_key_id=key.id)
    reserve(s, user_id=user, amount=4 * C, idempotency_key="c", api_key_id=key.id)
    settle(s, first.id, amount=6 * C)
    assert (key.budget_used, key.budget_held) == (6 * C, 4 * C)
    with pytest.raises(InsufficientCredits, match="budget"):
        reserve(s, user_id=user, amount=1, idempotency_key="d", api_key_id=key.id)
    reserve(s, user_id=user, amount=1, idempotency_key="no-key")  # the budget is per key
    s.commit()
    assert verify(s) == []


def test_monthly_budget_starts_over_on_the_first_of_the_month(s, user, make_key):
    fund(s, user, 100 * C)
    key = make_key(s, user, budget=10 * C, period="monthly")
    jan = datetime(2030, 1, 20, 12, 0)
    hold = reserve(s, user_id=user, amount=8 * C, idempotency_key="jan", api_key_id=key.id,
                   now=jan)
    settle(s, hold.id, amount=8 * C, now=jan)
    s.commit()
    assert (key.budget_used, db_time(key.budget_period_start)) == (8 * C,
                                                                  db_time(datetime(2030, 1, 1)))
    with pytest.raises(InsufficientCredits, match="budget"):
        reserve(s, user_id=user, amount=3 * C, idempotency_key="late-jan", api_key_id=key.id,
                now=datetime(2030, 1, 31, 23, 59, 59))
    feb = datetime(2030, 2, 1, 0, 0, 0)
    reserve(s, user_id=user, amount=3 * C, idempotency_key="feb", api_key_id=key.id, now=feb)
    s.commit()
    fresh = s.get(ApiKey, key.id)
    assert (fresh.budget_used, fresh.budget_held, db_time(fresh.budget_period_start)) == (
        0, 3 * C, db_time(feb))


@sqlite_only
def test_reserve_checks_the_key_owner_and_the_arguments(s, user, make_user, make_key):
    fund(s, user, 5 * C)
    stranger_key = make_key(s, make_user(s))
    with pytest.raises(LedgerError, match="does not belong"):
        reserve(s, user_id=user, amount=1, idempotency_key="x", api_key_id=stranger_key.id)
    with pytest.raises(LedgerError, match="ttl_seconds"):
        reserve(s, user_id=user, amount=1, idempotency_key="x", ttl_seconds=0)
    hold = reserve(s, user_id=user, amount=1, idempotency_key="ok")
    for bad in (-1, True, 0.5):
        with pytest.raises(LedgerError, match="amount"):
            settle(s, hold.id, amount=bad)
    assert (hold.status, count(s, Hold)) == ("active", 1)
