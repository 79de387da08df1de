"""Grants, debits, clawbacks, idempotency and validation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ledger_helpers import sqlite_only
from sqlmodel import func, select

from apiany.core.db import utcnow
from apiany.core.errors import IdempotencyMismatch, InsufficientCredits, LedgerError
from apiany.core.money import UNITS_PER_CREDIT as C
from apiany.ledger import (
    MAX_AMOUNT,
    debit_credits,
    grant_credits,
    journal,
    postings,
    reserve,
    system_account,
    user_account,
    verify,
)
from apiany.models.ledger import CreditLot, LedgerEntry, LedgerTransaction, LotMovement


def count(s, model) -> int:
    return s.exec(select(func.count()).select_from(model)).one()


def grant(s, user, amount, key, **kw):
    kw.setdefault("kind", "grant")
    return grant_credits(s, user_id=user, amount=amount, idempotency_key=key, **kw)


def spend(s, user, amount, key, **kw):
    kw.setdefault("kind", "consumption")
    return debit_credits(s, user_id=user, amount=amount, idempotency_key=key, actor="test",
                         memo="", reference_type="request", reference_id=key, **kw)


def lot_remaining(s, user) -> list[int]:
    acc = user_account(s, user)
    return [lot.remaining for lot in s.exec(select(CreditLot).where(
        CreditLot.account_id == acc.id).order_by(CreditLot.id))]


def test_grant_moves_units_from_system_account_and_opens_a_lot(s, user):
    expires = utcnow() + timedelta(days=30)
    tx = grant(s, user, 5 * C, "order:1", kind="purchase", reference_type="order",
               reference_id="1", price_minor=500, expires_at=expires, actor="stripe", memo="pack")
    s.commit()
    assert (tx.kind, tx.actor, tx.memo, tx.reference_type, tx.reference_id) == (
        "purchase", "stripe", "pack", "order", "1")
    assert user_account(s, user).balance == 5 * C
    assert system_account(s, "system:purchases").balance == -5 * C
    entries = s.exec(select(LedgerEntry).where(LedgerEntry.transaction_id == tx.id)
                     .order_by(LedgerEntry.id)).all()
    # System accounts keep no running balance (never a hot row): balance_after 0.
    assert [(e.amount, e.balance_after) for e in entries] == [(5 * C, 5 * C), (-5 * C, 0)]
    lot = s.exec(select(CreditLot)).one()
    assert (lot.source, lot.amount, lot.remaining, lot.price_minor, lot.currency,
            lot.expires_at, lot.transaction_id) == ("purchase", 5 * C, 5 * C, 500, "usd",
                                                    expires, tx.id)
    assert count(s, LotMovement) == 0
    assert verify(s) == []


@sqlite_only
@pytest.mark.parametrize("kind,code", [("grant", "system:grants"),
                                       ("purchase", "system:purchases"),
                                       ("subscription", "system:purchases"),
                                       ("adjustment", "system:adjustments")])
def test_each_grant_kind_draws_on_its_system_account(s, user, kind, code):
    grant(s, user, 3, f"k-{kind}", kind=kind, lot_source="signup" if kind == "grant" else None)
    assert system_account(s, code).balance == -3
    assert s.exec(select(CreditLot.source)).one() == ("signup" if kind == "grant" else kind)


def test_replay_returns_the_original_and_writes_nothing(s, user):
    first = grant(s, user, 7 * C, "g-1", reference_type="order", reference_id="9")
    s.commit()
    again = grant(s, user, 7 * C, "g-1", reference_type="order", reference_id="9",
                  memo="a different memo does not matter")
    s.commit()
    assert again.id == first.id
    assert (count(s, LedgerTransaction), count(s, LedgerEntry), count(s, CreditLot)) == (1, 2, 1)
    assert user_account(s, user).balance == 7 * C


@sqlite_only
@pytest.mark.parametrize("change", [{"amount": 8 * C}, {"kind": "purchase"},
                                    {"reference_id": "10"}])
def test_same_key_with_other_content_raises_mismatch(s, user, change):
    grant(s, user, 7 * C, "g-1", reference_type="order", reference_id="9")
    s.commit()
    args = {"amount": 7 * C, "kind": "grant", "reference_type": "order", "reference_id": "9",
            **change}
    with pytest.raises(IdempotencyMismatch, match="g-1"):
        grant_credits(s, user_id=user, idempotency_key="g-1", **args)
    assert (count(s, LedgerTransaction), user_account(s, user).balance) == (1, 7 * C)


def test_debit_replay_after_the_balance_is_spent_still_returns_the_original(s, user):
    grant(s, user, 10, "g")
    first = spend(s, user, 10, "req-1")
    s.commit()
    assert spend(s, user, 10, "req-1").id == first.id
    assert user_account(s, user).balance == 0


def test_unique_key_race_is_absorbed_by_a_savepoint(s, user, make_user, monkeypatch):
    """As if another worker inserted the key between our lookup and INSERT:
    the INSERT fails, the savepoint keeps the caller's transaction alive."""
    original = grant(s, user, 5, "race")
    s.commit()
    other = make_user(s)
    grant(s, other, 3, "earlier-write-in-same-unit-of-work")
    monkeypatch.setattr(postings, "replayed", lambda *a: None)
    monkeypatch.setattr(journal, "replayed", lambda *a: None)
    assert grant(s, user, 5, "race").id == original.id
    with pytest.raises(IdempotencyMismatch):
        grant(s, user, 6, "race")
    s.commit()
    assert user_account(s, user).balance == 5
    assert user_account(s, other).balance == 3
    assert count(s, LedgerTransaction) == 2
    assert verify(s) == []


@sqlite_only
@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10", None, MAX_AMOUNT + 1])
def test_amount_must_be_a_positive_int(s, user, bad):
    with pytest.raises(LedgerError, match="amount"):
        grant(s, user, bad, "bad")
    with pytest.raises(LedgerError, match="amount"):
        spend(s, user, bad, "bad")
    with pytest.raises(LedgerError, match="amount"):
        reserve(s, user_id=user, amount=bad, idempotency_key="bad")
    assert count(s, LedgerTransaction) == 0


@sqlite_only
def test_kinds_keys_and_users_are_checked(s, user):
    with pytest.raises(LedgerError, match="kind"):
        grant(s, user, 1, "x", kind="refund")
    with pytest.raises(LedgerError, match="kind"):
        spend(s, user, 1, "x", kind="grant")
    with pytest.raises(LedgerError, match="idempotency_key"):
        grant(s, user, 1, "  ")
    with pytest.raises(LedgerError, match="reference_type"):
        grant(s, user, 1, "x", reference_type="r" * 31)
    with pytest.raises(LedgerError, match="user:999"):
        grant(s, 999, 1, "x")
    with pytest.raises(LedgerError, match="code"):
        system_account(s, "system:nope")
    with pytest.raises(LedgerError, match="only a clawback"):
        spend(s, user, 1, "x", allow_overdraft=True)
    with pytest.raises(LedgerError, match="not a lot of"):
        spend(s, user, 1, "x", kind="clawback", from_lot_id=12345)
    s.rollback()
    assert count(s, LedgerTransaction) == 0


def test_user_account_is_created_once(s, user):
    a = user_account(s, user)
    b = user_account(s, user, lock=True)
    assert a.id == b.id and a.code == f"user:{user}" and a.user_id == user
    assert a.overdraft_limit == 1000 * C  # APIANY_CLAWBACK_LIMIT_CREDITS default


def test_debit_draws_earliest_expiry_first_then_no_expiry_oldest(s, user):
    now = utcnow()
    grant(s, user, 10 * C, "a-none")                                     # lot A, no expiry
    grant(s, user, 5 * C, "b-10d", expires_at=now + timedelta(days=10))  # lot B
    grant(s, user, 3 * C, "c-2d", expires_at=now + timedelta(days=2))    # lot C
    grant(s, user, 4 * C, "d-10d", expires_at=now + timedelta(days=10))  # lot D (after B)
    grant(s, user, 1 * C, "e-none")                                      # lot E, no expiry
    tx = spend(s, user, 9 * C, "r1")
    moves = s.exec(select(LotMovement.lot_id, LotMovement.amount)
                   .where(LotMovement.transaction_id == tx.id).order_by(LotMovement.id)).all()
    lots = [lot.id for lot in s.exec(select(CreditLot).order_by(CreditLot.id))]
    assert moves == [(lots[2], -3 * C), (lots[1], -5 * C), (lots[3], -1 * C)]
    assert lot_remaining(s, user) == [10 * C, 0, 0, 3 * C, 1 * C]
    spend(s, user, 5 * C, "r2")
    assert lot_remaining(s, user) == [8 * C, 0, 0, 0, 1 * C]
    s.commit()
    assert user_account(s, user).balance == 9 * C
    assert system_account(s, "system:consumption").balance == 14 * C
    assert verify(s) == []


def test_debit_beyond_available_raises_402_and_writes_nothing(s, user):
    grant(s, user, 10, "g")
    reserve(s, user_id=user, amount=8, idempotency_key="h")
    with pytest.raises(InsufficientCredits, match="2 available|0.000002") as err:
        spend(s, user, 3, "r")
    assert err.value.status_code == 402
    assert count(s, LedgerTransaction) == 1
    spend(s, user, 2, "r2")
    s.commit()
    assert (user_account(s, user).balance, user_account(s, user).held) == (8, 8)
    assert verify(s) == []


def test_clawback_may_overdraw_up_to_the_limit_and_flags_the_account(s, user):
    grant(s, user, 10 * C, "p", kind="purchase", price_minor=1000)
    spend(s, user, 4 * C, "used")
    with pytest.raises(InsufficientCredits):
        spend(s, user, 10 * C, "cb-no-overdraft", kind="clawback")
    spend(s, user, 10 * C, "cb", kind="clawback", allow_overdraft=True)
    acc = user_account(s, user)
    assert (acc.balance, acc.flagged) == (-4 * C, True)
    assert lot_remaining(s, user) == [0]
    assert system_account(s, "system:clawbacks").balance == 10 * C
    acc.overdraft_limit = 5 * C
    with pytest.raises(InsufficientCredits, match="overdraft limit"):
        spend(s, user, 2 * C, "cb2", kind="clawback", allow_overdraft=True)
    spend(s, user, 1 * C, "cb3", kind="clawback", allow_overdraft=True)
    with pytest.raises(InsufficientCredits, match="negative"):
        reserve(s, user_id=user, amount=1, idempotency_key="h")
    s.commit()
    assert verify(s) == []
    # New credits pay the debt first: the lot keeps only what may be spent.
    grant(s, user, 3 * C, "g-small")
    assert (user_account(s, user).balance, lot_remaining(s, user)) == (-2 * C, [0, 0])
    grant(s, user, 10 * C, "g-big")
    assert (user_account(s, user).balance, lot_remaining(s, user)) == (8 * C, [0, 0, 8 * C])
    s.commit()
    assert verify(s) == []


def test_clawback_of_one_purchase_takes_that_lot_first(s, user):
    grant(s, user, 5 * C, "free", expires_at=utcnow() + timedelta(days=3))
    purchase = grant(s, user, 10 * C, "paid", kind="purchase", price_minor=999)
    lot = s.exec(select(CreditLot).where(CreditLot.transaction_id == purchase.id)).one()
    spend(s, user, 2 * C, "used")  # from the free lot: it expires first
    spend(s, user, lot.remaining, "refund-order", kind="clawback", from_lot_id=lot.id)
    assert lot_remaining(s, user) == [3 * C, 0]
    assert user_account(s, user).balance == 3 * C
    s.commit()
    assert verify(s) == []
