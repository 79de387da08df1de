"""Lot expiry, refunds of consumption and the balance view."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from apiany.core.errors import LedgerError
from apiany.core.money import UNITS_PER_CREDIT as C
from apiany.ledger import (
    BalanceView,
    balance_of,
    debit_credits,
    expire_lots,
    grant_credits,
    refund_consumption,
    release,
    reserve,
    settle,
    system_account,
    user_account,
    verify,
)
from apiany.ledger.common import db_time
from apiany.models.ledger import CreditLot, LedgerEntry, LedgerTransaction, LotMovement

T0 = datetime(2030, 3, 10, 9, 0, 0)
DAY = timedelta(days=1)


def lot(s, user, amount, key, expires_at=None, price_minor=0):
    tx = grant_credits(s, user_id=user, amount=amount, idempotency_key=key,
                       kind="purchase" if price_minor else "grant", expires_at=expires_at,
                       price_minor=price_minor)
    return s.exec(select(CreditLot).where(CreditLot.transaction_id == tx.id)).one()


def spend(s, user, amount, key, **kw):
    return debit_credits(s, user_id=user, amount=amount, kind=kw.pop("kind", "consumption"),
                         idempotency_key=key, actor="test", memo="", reference_type="request",
                         reference_id=key, **kw)


def expirations(s) -> list[tuple[str, str, int]]:
    rows = s.exec(select(LedgerTransaction.idempotency_key, LedgerTransaction.reference_id,
                         LedgerEntry.amount)
                  .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
                  .where(LedgerTransaction.kind == "expiration", LedgerEntry.amount < 0)
                  .order_by(LedgerTransaction.id))
    return list(rows)


def test_expire_lots_writes_one_expiration_per_lot_for_what_is_left(s, user):
    a = lot(s, user, 5 * C, "a", expires_at=T0 + DAY)
    b = lot(s, user, 3 * C, "b", expires_at=T0 + 2 * DAY)
    lot(s, user, 10 * C, "c")
    spend(s, user, 2 * C, "r")  # from a, which expires first
    s.commit()
    assert expire_lots(s, now=T0 + DAY - timedelta(seconds=1)) == 0
    assert expire_lots(s, now=T0 + DAY) == 1
    assert expire_lots(s, now=T0 + DAY) == 0
    s.commit()
    assert expirations(s) == [(f"expire-lot:{a.id}", str(a.id), -3 * C)]
    assert (a.remaining, db_time(a.expired_at)) == (0, db_time(T0 + DAY))
    assert user_account(s, user).balance == 13 * C
    assert expire_lots(s, now=T0 + 3 * DAY) == 1
    s.commit()
    assert (b.remaining, user_account(s, user).balance) == (0, 10 * C)
    assert system_account(s, "system:expirations").balance == 6 * C
    assert verify(s) == []


def test_expiry_leaves_credits_that_holds_reserved_for_a_later_run(s, user):
    a = lot(s, user, 10 * C, "a", expires_at=T0 + DAY)
    b = lot(s, user, 5 * C, "b")
    first = reserve(s, user_id=user, amount=12 * C, idempotency_key="h1", now=T0,
                    ttl_seconds=10 * 86400)
    s.commit()
    assert expire_lots(s, now=T0 + DAY) == 1  # only the 3 C nobody reserved
    assert (a.remaining, a.expired_at) == (7 * C, None)
    assert expire_lots(s, now=T0 + DAY) == 0  # nothing free to expire
    settle(s, first.id, amount=5 * C, now=T0 + DAY)  # draws the expired lot first
    assert (a.remaining, b.remaining) == (2 * C, 5 * C)
    second = reserve(s, user_id=user, amount=6 * C, idempotency_key="h2", now=T0 + DAY)
    assert expire_lots(s, now=T0 + DAY) == 1  # 7 C balance - 6 C held: 1 C
    release(s, second.id)
    assert expire_lots(s, now=T0 + DAY) == 1
    s.commit()
    assert expirations(s) == [(f"expire-lot:{a.id}", str(a.id), -3 * C),
                              (f"expire-lot:{a.id}:2", str(a.id), -1 * C),
                              (f"expire-lot:{a.id}:3", str(a.id), -1 * C)]
    assert (a.remaining, b.remaining, user_account(s, user).balance) == (0, 5 * C, 5 * C)
    assert verify(s) == []


def test_expiry_after_a_clawback_takes_only_what_the_balance_has(s, user):
    a = lot(s, user, 10 * C, "a", expires_at=T0 + DAY)
    spend(s, user, 4 * C, "cb", kind="clawback", allow_overdraft=True)
    assert expire_lots(s, now=T0 + DAY) == 1
    spend(s, user, 2 * C, "cb2", kind="clawback", allow_overdraft=True)
    s.commit()
    assert expirations(s) == [(f"expire-lot:{a.id}", str(a.id), -6 * C)]
    assert (a.remaining, user_account(s, user).balance) == (0, -2 * C)
    assert expire_lots(s, now=T0 + 2 * DAY) == 0
    assert verify(s) == []


def test_refund_returns_exactly_what_was_drawn_to_the_same_lots_once(s, user):
    a = lot(s, user, 2 * C, "a", expires_at=T0 + DAY)
    b = lot(s, user, 5 * C, "b", price_minor=500)
    used = spend(s, user, 4 * C, "task-1")
    assert (a.remaining, b.remaining) == (0, 3 * C)
    refund = refund_consumption(s, transaction_id=used.id, idempotency_key="refund:task-1",
                                actor="jobs", memo="video failed", reference_type="task",
                                reference_id="task-1")
    s.commit()
    assert (refund.kind, refund.reverses_transaction_id, refund.reference_id) == (
        "refund", used.id, "task-1")
    moves = s.exec(select(LotMovement.lot_id, LotMovement.amount)
                   .where(LotMovement.transaction_id == refund.id).order_by(LotMovement.id)).all()
    assert sorted(moves) == sorted([(a.id, 2 * C), (b.id, 2 * C)])
    assert (a.remaining, b.remaining, user_account(s, user).balance) == (2 * C, 5 * C, 7 * C)
    assert system_account(s, "system:consumption").balance == 0
    again = refund_consumption(s, transaction_id=used.id, idempotency_key="refund:task-1",
                               actor="jobs", memo="video failed", reference_type="task",
                               reference_id="task-1")
    assert again.id == refund.id
    with pytest.raises(LedgerError, match="already refunded"):
        refund_consumption(s, transaction_id=used.id, idempotency_key="refund:other",
                           reference_type="task", reference_id="task-1")
    with pytest.raises(LedgerError, match="only a consumption"):
        refund_consumption(s, transaction_id=refund.id, idempotency_key="refund:refund")
    assert user_account(s, user).balance == 7 * C
    assert verify(s) == []


def test_a_refund_into_an_expired_lot_is_expired_by_the_next_run(s, user):
    a = lot(s, user, 5 * C, "a", expires_at=T0 + DAY)
    used = spend(s, user, 3 * C, "r")
    assert expire_lots(s, now=T0 + 2 * DAY) == 1  # the 2 C left
    refund_consumption(s, transaction_id=used.id, idempotency_key="refund:r")
    assert (a.remaining, user_account(s, user).balance) == (3 * C, 3 * C)
    assert expire_lots(s, now=T0 + 2 * DAY) == 1
    s.commit()
    assert expirations(s) == [(f"expire-lot:{a.id}", str(a.id), -2 * C),
                              (f"expire-lot:{a.id}:2", str(a.id), -3 * C)]
    assert (a.remaining, user_account(s, user).balance) == (0, 0)
    assert verify(s) == []


def test_a_refund_on_a_negative_balance_pays_the_debt_first(s, user):
    a = lot(s, user, 10 * C, "a")
    used = spend(s, user, 4 * C, "r")
    spend(s, user, 9 * C, "cb", kind="clawback", allow_overdraft=True)
    assert (user_account(s, user).balance, a.remaining) == (-3 * C, 0)
    refund = refund_consumption(s, transaction_id=used.id, idempotency_key="refund:r")
    moves = s.exec(select(LotMovement.amount).where(LotMovement.transaction_id == refund.id)).all()
    assert (moves, a.remaining, user_account(s, user).balance) == ([1 * C], 1 * C, 1 * C)
    s.commit()
    assert verify(s) == []


def test_balance_view(s, user):
    lot(s, user, 5 * C, "free-soon", expires_at=T0 + 3 * DAY)
    lot(s, user, 10 * C, "paid", price_minor=1000)
    lot(s, user, 2 * C, "free-later", expires_at=T0 + 30 * DAY)
    reserve(s, user_id=user, amount=1 * C, idempotency_key="h", now=T0)
    spend(s, user, 1 * C, "r")
    view = balance_of(s, user, now=T0)
    assert view == BalanceView(balance=16 * C, held=1 * C, available=15 * C, free=6 * C,
                               purchased=10 * C, expiring_soon=4 * C,
                               next_expiry=view.next_expiry)
    assert db_time(view.next_expiry) == db_time(T0 + 3 * DAY)
    assert balance_of(s, 987654, now=T0) == BalanceView(0, 0, 0, 0, 0, 0, None)
