"""Finance rollups on a scripted month, checked against figures computed by
hand, against the raw usage and ledger rows, and for idempotency.

The script (one user, this UTC month unless said otherwise):
- lots: free 10 credits (expires first), pack A 20 credits for $10.00
  (0.50 $/credit, expires in a year), pack B 30 credits for $10.00
  (1/3 $/credit, no expiry);
- r1 chat-a/ch1 4 cr (free); r2 chat-a/ch2 8 cr (free 6 + A 2);
  r3 embed-b/ch1 10 cr (A); r4 video-c/ch2 12 cr (A 8 + B 4) as a task that
  fails and is refunded; r5 chat-a/ch1 5 cr (A); r6 claude-d/ch2 7 cr
  (A 3 + B 4); r7 chat-a/ch1 failed, nothing charged;
- r0 claude-d/ch2 1 cr (B) last month; a refund of pack B (clawback of 10
  unspent credits); orders: two paid ($10 each), one of them partly
  refunded ($5), one paid ($3) and lost to a dispute, one paid in EUR, one
  paid last month, one pending.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import func, select

from apiany.core.db import session_scope, utcnow
from apiany.core.money import UNITS_PER_CREDIT as CREDIT
from apiany.jobs import clock
from apiany.jobs.registry import run_job_now
from apiany.ledger import debit_credits, grant_credits, refund_consumption, reserve, settle, verify
from apiany.models import (
    CreditLot,
    FinanceSummary,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    OrderEvent,
    UsageRecord,
)
from apiany.services.finance import month_bounds, month_of, previous_month, rollup_month
from tests.factories import make_user

FIELDS = ("requests", "credits_consumed", "credits_purchased", "credits_free", "revenue_micro",
          "upstream_cost_micro", "gross_margin_micro", "margin_bp")


def _spend(s, user_id, rid, model, channel, credits, cost, *, task=None, at=None):
    ref_type, ref_id = ("task", task) if task else ("request", rid)
    tx = None
    if credits:
        hold = reserve(s, user_id=user_id, amount=credits * CREDIT, idempotency_key=f"hold:{rid}",
                       reference_type=ref_type, reference_id=ref_id)
        tx = settle(s, hold.id, amount=credits * CREDIT)
    s.add(UsageRecord(request_id=rid, user_id=user_id, public_model=model, channel_name=channel,
                      status="success" if credits else "error", credits_charged=credits * CREDIT,
                      upstream_cost=cost, task_id=task, created_at=at or utcnow()))
    s.flush()
    return tx


@pytest.fixture
def month(any_db_url):
    user = make_user()
    now = utcnow()
    last_month = month_bounds(month_of(now))[0] - timedelta(days=3)
    with session_scope() as s:
        uid = user.id
        grant_credits(s, user_id=uid, amount=10 * CREDIT, kind="grant", idempotency_key="free",
                      expires_at=now + timedelta(days=30))
        grant_credits(s, user_id=uid, amount=20 * CREDIT, kind="purchase", idempotency_key="A",
                      price_minor=1000, expires_at=now + timedelta(days=365))
        pack_b = grant_credits(s, user_id=uid, amount=30 * CREDIT, kind="purchase",
                               idempotency_key="B", price_minor=1000)
        _spend(s, uid, "r1", "chat-a", "ch1", 4, 1_000_000)
        _spend(s, uid, "r2", "chat-a", "ch2", 8, 2_000_000)
        _spend(s, uid, "r3", "embed-b", "ch1", 10, 500_000)
        video = _spend(s, uid, "r4", "video-c", "ch2", 12, 0, task="task_1")
        refund_consumption(s, transaction_id=video.id, idempotency_key="refund:task_1",
                           reference_type="task", reference_id="task_1")
        _spend(s, uid, "r5", "chat-a", "ch1", 5, 700_000)
        _spend(s, uid, "r6", "claude-d", "ch2", 7, 1_200_000)
        _spend(s, uid, "r7", "chat-a", "ch1", 0, 0)
        old = _spend(s, uid, "r0", "claude-d", "ch2", 1, 100_000, at=last_month)
        s.execute(update(LedgerTransaction).where(LedgerTransaction.id == old.id)
                  .values(created_at=last_month))
        lot_b_id = s.exec(select(CreditLot.id).where(CreditLot.transaction_id == pack_b.id)).one()
        debit_credits(s, user_id=uid, amount=10 * CREDIT, kind="clawback",
                      idempotency_key="refund-order-b", from_lot_id=lot_b_id,
                      reference_type="order", reference_id="2")
        orders = [Order(user_id=uid, pack_code="a", amount_minor=1000, paid_minor=1000,
                        state="paid", paid_at=now),
                  Order(user_id=uid, pack_code="b", amount_minor=1000, paid_minor=1000,
                        refunded_minor=500, state="partially_refunded", paid_at=now),
                  Order(user_id=uid, pack_code="e", amount_minor=900, paid_minor=900,
                        currency="eur", state="paid", paid_at=now),
                  Order(user_id=uid, pack_code="old", amount_minor=700, paid_minor=700,
                        state="paid", paid_at=last_month),
                  Order(user_id=uid, pack_code="open", amount_minor=700, state="pending"),
                  Order(user_id=uid, pack_code="d", amount_minor=300, paid_minor=300,
                        disputed_minor=300, state="dispute_lost", paid_at=now)]
        s.add_all(orders)
        s.flush()
        s.add(OrderEvent(order_id=orders[1].id, from_state="paid", to_state="partially_refunded",
                         cause_type="event", created_at=now))
        s.add(OrderEvent(order_id=orders[5].id, from_state="disputed", to_state="dispute_lost",
                         cause_type="event", created_at=now))
        assert verify(s) == []
    return month_of(now)


def _figures(row: FinanceSummary) -> tuple:
    return tuple(getattr(row, name) for name in FIELDS)


def test_scripted_month_matches_hand_computed_figures(month):
    with session_scope() as s:
        summary = rollup_month(s, month)
    t = summary.total
    # revenue: A (2 + 10 + 5 + 3) x 0.50 + B 4 x 1/3 = 10 + 4/3 $, rounded once
    assert _figures(t) == (7, 34 * CREDIT, 24 * CREDIT, 10 * CREDIT, 11_333_333, 5_400_000,
                           5_933_333, 5235)
    assert (t.cash_paid_micro, t.cash_refunded_micro) == (23_000_000, 8_000_000)
    assert t.other_currencies == {"eur": {"revenue_micro": 0, "upstream_cost_micro": 0,
                                          "cash_paid_micro": 9_000_000, "cash_refunded_micro": 0}}
    by_model = {r.key: _figures(r) for r in summary.scoped("model")}
    assert by_model == {
        "chat-a": (4, 17 * CREDIT, 7 * CREDIT, 10 * CREDIT, 3_500_000, 3_700_000, -200_000, -571),
        "claude-d": (1, 7 * CREDIT, 7 * CREDIT, 0, 2_833_333, 1_200_000, 1_633_333, 5765),
        "embed-b": (1, 10 * CREDIT, 10 * CREDIT, 0, 5_000_000, 500_000, 4_500_000, 9000),
        "video-c": (1, 0, 0, 0, 0, 0, 0, None),  # charged, then refunded in the month
    }
    by_channel = {r.key: _figures(r) for r in summary.scoped("channel")}
    assert by_channel == {
        "ch1": (4, 19 * CREDIT, 15 * CREDIT, 4 * CREDIT, 7_500_000, 2_200_000, 5_300_000, 7067),
        "ch2": (3, 15 * CREDIT, 9 * CREDIT, 6 * CREDIT, 3_833_333, 3_200_000, 633_333, 1652),
    }


def test_month_reconciles_with_usage_and_ledger_rows(month):
    start, end = month_bounds(month)
    with session_scope() as s:
        total = rollup_month(s, month).total
        usage = s.exec(select(func.count(), func.sum(UsageRecord.upstream_cost))
                       .where(UsageRecord.created_at >= start, UsageRecord.created_at < end)).one()
        ledger_net = s.exec(
            select(func.sum(LedgerEntry.amount))
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(LedgerAccount.is_system.is_(False),
                   LedgerTransaction.kind.in_(("consumption", "refund")),
                   LedgerTransaction.created_at >= start, LedgerTransaction.created_at < end)).one()
        charged = s.exec(select(func.sum(UsageRecord.credits_charged))
                         .where(UsageRecord.created_at >= start, UsageRecord.created_at < end)).one()
        rows = rollup_month(s, month).rows
    assert (total.requests, total.upstream_cost_micro) == tuple(usage)
    assert total.credits_consumed == -ledger_net
    assert total.credits_consumed == charged - 12 * CREDIT  # the refunded video task
    for scope in ("model", "channel"):
        parts = [r for r in rows if r.scope == scope]
        for name in ("requests", "credits_consumed", "credits_purchased", "upstream_cost_micro"):
            assert sum(getattr(r, name) for r in parts) == getattr(total, name)


def test_rerunning_changes_nothing_and_the_job_covers_two_months(month):
    def stored():
        with session_scope() as s:
            return sorted((r.month, r.scope, r.key, _figures(r), r.cash_paid_micro,
                           r.other_currencies) for r in s.exec(select(FinanceSummary)))

    with session_scope() as s:
        rollup_month(s, month)
    first = stored()
    with session_scope() as s:
        rollup_month(s, month)
    assert stored() == first
    start, _ = month_bounds(month)
    with clock.frozen(start + timedelta(days=2)):
        result = run_job_now("rollup_finance", trigger="test")
    assert result.status == "success"
    after = stored()
    assert [r for r in after if r[0] == month] == first
    previous = {(r[1], r[2]): r[3] for r in after if r[0] == previous_month(month)}
    # r0: 1 credit of pack B (1/3 $) last month, plus last month's order
    assert previous[("total", "")][:5] == (1, CREDIT, CREDIT, 0, 333_333)
    assert [r[4] for r in after if r[0] == previous_month(month) and r[1] == "total"] == [7_000_000]


def test_bad_month_is_rejected(db_url):
    from apiany.core.errors import InvalidRequest

    for bad in ("2026-13", "2026-1", "26-01", ""):
        with pytest.raises(InvalidRequest), session_scope() as s:
            rollup_month(s, bad)
    assert previous_month("2026-01") == "2025-12"
