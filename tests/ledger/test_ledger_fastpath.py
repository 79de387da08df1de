"""The /v1 fast path (ledger/fastpath.py) writes what holds.reserve / settle /
release write, and hands every unusual case to them (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from apiany.core.db import utcnow
from apiany.core.errors import InsufficientCredits, LedgerError
from apiany.core.money import UNITS_PER_CREDIT as C
from apiany.ledger import (
    grant_credits,
    release_hold,
    reserve,
    reserve_hold,
    settle,
    settle_hold,
    system_account,
    user_account,
    verify,
)
from apiany.models.keys import ApiKey
from apiany.models.ledger import Hold, LedgerEntry, LedgerTransaction, LotMovement


def fund(s, user, amount, key="fund", expires=None):
    grant_credits(s, user_id=user, amount=amount, kind="grant", idempotency_key=key,
                  expires_at=expires)


def fresh(s, model, row_id):
    return s.get(model, row_id, populate_existing=True)


def test_reserve_settle_matches_the_full_path(s, user, make_key):
    fund(s, user, 3 * C, "soon", expires=utcnow() + timedelta(days=1))
    fund(s, user, 7 * C, "later")
    key = make_key(s, user, budget=6 * C)
    s.commit()
    hold_id = reserve_hold(s, user_id=user, amount=5 * C, idempotency_key="h1",
                           api_key_id=key.id, reference_type="request", reference_id="r1")
    assert reserve_hold(s, user_id=user, amount=5 * C, idempotency_key="h1", api_key_id=key.id,
                        reference_type="request", reference_id="r1") == hold_id  # a replay
    account = user_account(s, user)
    assert (account.balance, account.held, fresh(s, ApiKey, key.id).budget_held) == (10 * C, 5 * C,
                                                                                      5 * C)
    assert settle_hold(s, hold_id, amount=4 * C, memo="m") == 4 * C
    s.commit()
    hold = fresh(s, Hold, hold_id)
    tx = s.get(LedgerTransaction, hold.settle_transaction_id)
    assert (hold.status, hold.settled_amount, tx.kind, tx.idempotency_key, tx.memo) == (
        "settled", 4 * C, "consumption", "settle:h1", "m")
    key = fresh(s, ApiKey, key.id)
    assert (key.budget_used, key.budget_held) == (4 * C, 0)
    account = user_account(s, user)
    assert (account.balance, account.held) == (6 * C, 0)
    moves = s.exec(select(LotMovement.amount).where(LotMovement.transaction_id == tx.id)
                   .order_by(LotMovement.id)).all()
    assert moves == [-3 * C, -1 * C]  # earliest expiry first
    after = s.exec(select(LedgerEntry.balance_after).where(LedgerEntry.transaction_id == tx.id,
                                                           LedgerEntry.amount < 0)).one()
    assert after == 6 * C
    assert system_account(s, "system:consumption").balance == 4 * C
    assert settle_hold(s, hold_id, amount=4 * C) == 4 * C  # settled already: unchanged
    assert verify(s) == []


def test_unusual_cases_go_to_the_full_path(s, user, make_key):
    fund(s, user, 2 * C)
    key = make_key(s, user, budget=1 * C, period="monthly")
    s.commit()
    with pytest.raises(InsufficientCredits, match="available"):
        reserve_hold(s, user_id=user, amount=3 * C, idempotency_key="big")
    with pytest.raises(InsufficientCredits, match="budget"):
        reserve_hold(s, user_id=user, amount=2 * C, idempotency_key="k", api_key_id=key.id)
    s.rollback()
    # a monthly budget period that never started: the full path rolls it
    hold_id = reserve_hold(s, user_id=user, amount=1 * C, idempotency_key="ok", api_key_id=key.id)
    assert fresh(s, ApiKey, key.id).budget_period_start is not None
    release_hold(s, hold_id)
    release_hold(s, hold_id)  # finished: unchanged
    with pytest.raises(LedgerError, match="released"):
        settle_hold(s, hold_id, amount=1)
    s.rollback()
    with pytest.raises(LedgerError, match="does not exist"):
        release_hold(s, 10**9)
    s.rollback()
    other = reserve(s, user_id=user, amount=1 * C, idempotency_key="orm")
    # more than reserved: only what the balance covers beyond other holds
    assert settle_hold(s, other.id, amount=5 * C) == 2 * C
    s.commit()
    assert (user_account(s, user).balance, user_account(s, user).held) == (0, 0)
    assert verify(s) == []


def test_full_and_fast_paths_mix(s, user):
    fund(s, user, 5 * C)
    fast = reserve_hold(s, user_id=user, amount=2 * C, idempotency_key="a")
    slow = reserve(s, user_id=user, amount=2 * C, idempotency_key="b")
    settle(s, fast, amount=1 * C)
    settle_hold(s, slow.id, amount=1 * C)
    s.commit()
    assert (user_account(s, user).balance, user_account(s, user).held) == (3 * C, 0)
    assert system_account(s, "system:consumption").balance == 2 * C
    assert verify(s) == []
