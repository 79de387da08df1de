"""Monthly finance summaries (UTC months), total and by model and by channel.

Sources, for the month [start, end):
- requests and upstream cost: usage rows created in the month (cost in
  micro-units, 1e-6, of the cost rule's currency);
- credits consumed: consumption transactions of the month minus refunds of
  consumptions made in the month (a refund counts in the month it happens,
  against the model/channel of the consumption it reverses); attributed to a
  model and channel through the usage row of the transaction's reference
  (request id, or task id);
- purchased vs free: the lot movements of those transactions; a lot with a
  price (price_minor > 0) is purchased, any other lot is free;
- credit revenue, recognised on consumption: for each paid lot, credits
  drawn x price_minor / lot amount. The exact sum is kept as a fraction and
  rounded once per figure, half up, to a micro-unit of the currency;
- cash: payments orders paid in the month (paid_minor at paid_at) minus
  refunds (refunded_minor) and lost disputes (disputed_minor), each counted
  in the month of the order's last such event, by currency;
- gross margin = revenue - upstream cost; margin_bp = margin / revenue in
  basis points (None when there is no revenue).

Figures in the reporting currency (APIANY_FINANCE_CURRENCY) fill the
columns; any other currency is reported as is in `other_currencies`, never
converted. `rollup_month` deletes and rewrites a month's rows in the
caller's transaction, so recomputing gives the same numbers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction

from sqlalchemy import and_, delete, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from apiany.core.db import session_scope, utcnow
from apiany.core.errors import InvalidRequest
from apiany.core.money import format_credits
from apiany.core.settings import get_settings
from apiany.models.jobs import FinanceSummary
from apiany.models.ledger import CreditLot, LedgerAccount, LedgerEntry, LedgerTransaction, LotMovement
from apiany.models.usage import UsageRecord

UNATTRIBUTED = "(unattributed)"
NO_CHANNEL = "(none)"
_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf",
                           "ugx", "vnd", "vuv", "xaf", "xof", "xpf"})
Key = tuple[str, str]  # (scope, key)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    match = _MONTH_RE.match(month or "")
    if not match:
        raise InvalidRequest(f"month must be YYYY-MM, got {month!r}", param="month")
    year, mon = int(match[1]), int(match[2])
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=UTC)
    return start, end


def month_of(moment: datetime) -> str:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"{moment.year:04d}-{moment.month:02d}"


def previous_month(month: str) -> str:
    start, _ = month_bounds(month)
    return f"{start.year - (start.month == 1):04d}-{(start.month - 2) % 12 + 1:02d}"


def micro_per_minor(currency: str) -> int:
    return 1_000_000 if currency.lower() in _ZERO_DECIMAL else 10_000


def round_half_up(value: Fraction) -> int:
    sign = -1 if value < 0 else 1
    return sign * int(abs(value) + Fraction(1, 2))


@dataclass
class Figures:
    requests: int = 0
    credits_consumed: int = 0
    credits_purchased: int = 0
    revenue: dict[str, Fraction] = field(default_factory=lambda: defaultdict(Fraction))
    cost: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cash: dict[str, list[int]] = field(default_factory=dict)  # currency -> [paid, refunded] minor


@dataclass
class MonthSummary:
    month: str
    currency: str
    rows: list[FinanceSummary]

    @property
    def total(self) -> FinanceSummary:
        return next(r for r in self.rows if r.scope == "total")

    def scoped(self, scope: str) -> list[FinanceSummary]:
        return [r for r in self.rows if r.scope == scope]


def _targets(model: str, channel: str) -> list[Key]:
    return [("total", ""), ("model", model or UNATTRIBUTED), ("channel", channel or NO_CHANNEL)]


def _add_usage(session: Session, start: datetime, end: datetime, out: dict[Key, Figures]) -> None:
    rows = session.exec(
        select(UsageRecord.public_model, UsageRecord.channel_name,
               UsageRecord.upstream_cost_currency, func.count(), func.sum(UsageRecord.upstream_cost))
        .where(UsageRecord.created_at >= start, UsageRecord.created_at < end)
        .group_by(UsageRecord.public_model, UsageRecord.channel_name,
                  UsageRecord.upstream_cost_currency)).all()
    for model, channel, currency, count, cost in rows:
        for target in _targets(model, channel):
            out[target].requests += count
            out[target].cost[(currency or "usd").lower()] += int(cost or 0)


def _in_month(tx, start: datetime, end: datetime):
    consumption = or_(tx.kind == "consumption",
                      and_(tx.kind == "refund", tx.reverses_transaction_id.is_not(None)))
    return and_(tx.created_at >= start, tx.created_at < end, consumption)


def _attribution(session: Session, refs: set[tuple[str, str]]) -> dict[tuple[str, str], Key]:
    """(reference_type, reference_id) -> (model, channel) from usage rows."""
    found: dict[tuple[str, str], Key] = {}
    ids = sorted({ref_id for _, ref_id in refs if ref_id})
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        rows = session.exec(select(UsageRecord.request_id, UsageRecord.task_id,
                                   UsageRecord.public_model, UsageRecord.channel_name,
                                   UsageRecord.credits_charged)
                            .where(or_(UsageRecord.request_id.in_(chunk),
                                       UsageRecord.task_id.in_(chunk)))
                            .order_by(UsageRecord.credits_charged.desc(), UsageRecord.id)).all()
        for request_id, task_id, model, channel, _ in rows:
            found.setdefault(("request", request_id), (model, channel))
            if task_id:
                found.setdefault(("task", task_id), (model, channel))
    return {ref: found.get(ref) or found.get(("request", ref[1])) or found.get(("task", ref[1]))
            or (UNATTRIBUTED, NO_CHANNEL) for ref in refs}


def _add_consumption(session: Session, start: datetime, end: datetime,
                     out: dict[Key, Figures]) -> None:
    tx, orig = aliased(LedgerTransaction), aliased(LedgerTransaction)
    user_side = and_(LedgerAccount.id == LedgerEntry.account_id, LedgerAccount.is_system.is_(False))
    rows = session.exec(
        select(tx.id, func.coalesce(orig.reference_type, tx.reference_type),
               func.coalesce(orig.reference_id, tx.reference_id), LedgerEntry.amount)
        .join(LedgerEntry, LedgerEntry.transaction_id == tx.id)
        .join(LedgerAccount, user_side)
        .outerjoin(orig, orig.id == tx.reverses_transaction_id)
        .where(_in_month(tx, start, end))).all()
    refs = {(ref_type, ref_id) for _, ref_type, ref_id, _ in rows}
    where = _attribution(session, refs)
    tx_ref: dict[int, Key] = {}
    for tx_id, ref_type, ref_id, amount in rows:
        tx_ref[tx_id] = where[(ref_type, ref_id)]
        for target in _targets(*tx_ref[tx_id]):
            out[target].credits_consumed -= amount
    moves = session.exec(
        select(LotMovement.transaction_id, LotMovement.amount, CreditLot.price_minor,
               CreditLot.amount, CreditLot.currency)
        .join(CreditLot, CreditLot.id == LotMovement.lot_id)
        .join(tx, tx.id == LotMovement.transaction_id)
        .where(_in_month(tx, start, end), CreditLot.price_minor > 0)).all()
    for tx_id, moved, price_minor, lot_amount, currency in moves:
        currency = currency.lower()
        revenue = Fraction(-moved * price_minor * micro_per_minor(currency), lot_amount)
        for target in _targets(*tx_ref.get(tx_id, (UNATTRIBUTED, NO_CHANNEL))):
            out[target].credits_purchased -= moved
            out[target].revenue[currency] += revenue


def _cash(session: Session, start: datetime, end: datetime) -> dict[str, list[int]]:
    """currency -> [paid, refunded] in minor units; empty without payments."""
    try:
        from apiany.models.payments import Order, OrderEvent
    except ImportError:  # payments not installed
        return {}
    cash: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    paid = session.exec(select(Order.currency, func.sum(Order.paid_minor))
                        .where(Order.paid_at >= start, Order.paid_at < end)
                        .group_by(Order.currency)).all()
    for currency, amount in paid:
        cash[currency.lower()][0] += int(amount or 0)
    # Refunds and lost disputes, in the month of the order's last such event.
    for states, amount_col in ((("refunded", "partially_refunded"), Order.refunded_minor),
                               (("dispute_lost",), Order.disputed_minor)):
        last = (select(OrderEvent.order_id, func.max(OrderEvent.created_at).label("at"))
                .where(OrderEvent.to_state.in_(states)).group_by(OrderEvent.order_id).subquery())
        rows = session.exec(select(Order.currency, func.sum(amount_col))
                            .join(last, last.c.order_id == Order.id)
                            .where(last.c.at >= start, last.c.at < end)
                            .group_by(Order.currency)).all()
        for currency, amount in rows:
            cash[currency.lower()][1] += int(amount or 0)
    return dict(cash)


def compute_month(session: Session, month: str) -> dict[Key, Figures]:
    start, end = month_bounds(month)
    out: dict[Key, Figures] = defaultdict(Figures)
    out[("total", "")].cash = _cash(session, start, end)
    _add_usage(session, start, end, out)
    _add_consumption(session, start, end, out)
    return dict(out)


def _row(month: str, scope: str, key: str, fig: Figures, currency: str,
         now: datetime) -> FinanceSummary:
    revenue = {c: round_half_up(v) for c, v in fig.revenue.items()}
    cash = {c: [p * micro_per_minor(c), r * micro_per_minor(c)] for c, (p, r) in fig.cash.items()}
    others = {}
    for cur in sorted((set(revenue) | set(fig.cost) | set(cash)) - {currency}):
        others[cur] = {"revenue_micro": revenue.get(cur, 0),
                       "upstream_cost_micro": fig.cost.get(cur, 0),
                       "cash_paid_micro": cash.get(cur, [0, 0])[0],
                       "cash_refunded_micro": cash.get(cur, [0, 0])[1]}
    rev, cost = revenue.get(currency, 0), fig.cost.get(currency, 0)
    margin = rev - cost
    margin_bp = round_half_up(Fraction(margin * 10_000, rev)) if rev > 0 else None
    return FinanceSummary(
        month=month, scope=scope, key=key, currency=currency, requests=fig.requests,
        credits_consumed=fig.credits_consumed, credits_purchased=fig.credits_purchased,
        credits_free=fig.credits_consumed - fig.credits_purchased, revenue_micro=rev,
        cash_paid_micro=cash.get(currency, [0, 0])[0],
        cash_refunded_micro=cash.get(currency, [0, 0])[1], upstream_cost_micro=cost,
        gross_margin_micro=margin, margin_bp=margin_bp, other_currencies=others, computed_at=now)


def rollup_month(session: Session, month: str) -> MonthSummary:
    """Recompute `month` (YYYY-MM, UTC) and replace its stored rows, in the
    caller's transaction. Idempotent."""
    figures = compute_month(session, month)
    currency = get_settings().finance_currency.lower()
    now = utcnow()
    order = {"total": 0, "model": 1, "channel": 2}
    rows = [_row(month, scope, key, fig, currency, now)
            for (scope, key), fig in sorted(figures.items(), key=lambda i: (order[i[0][0]], i[0][1]))]
    session.execute(delete(FinanceSummary).where(FinanceSummary.month == month))
    session.add_all(rows)
    session.flush()
    return MonthSummary(month, currency, rows)


def stored_month(session: Session, month: str) -> list[FinanceSummary]:
    return list(session.exec(select(FinanceSummary).where(FinanceSummary.month == month)
                             .order_by(FinanceSummary.scope.desc(), FinanceSummary.key)))


def _money(micro: int, currency: str) -> str:
    return f"{format_credits(micro)} {currency.upper()}"


def format_summary(summary: MonthSummary) -> str:
    t, cur = summary.total, summary.currency
    pct = "n/a" if t.margin_bp is None else f"{t.margin_bp / 100:.2f}%"
    lines = [
        f"Finance summary {summary.month} (UTC), amounts in {cur.upper()}",
        f"  requests            {t.requests}",
        f"  credits consumed    {format_credits(t.credits_consumed)} "
        f"(purchased {format_credits(t.credits_purchased)}, free {format_credits(t.credits_free)})",
        f"  credit revenue      {_money(t.revenue_micro, cur)}",
        f"  cash collected      {_money(t.cash_paid_micro - t.cash_refunded_micro, cur)} "
        f"(paid {_money(t.cash_paid_micro, cur)}, refunded {_money(t.cash_refunded_micro, cur)})",
        f"  upstream cost       {_money(t.upstream_cost_micro, cur)}",
        f"  gross margin        {_money(t.gross_margin_micro, cur)} ({pct})",
    ]
    for cur_other, figures in sorted(t.other_currencies.items()):
        lines.append(f"  in {cur_other.upper()}: " + ", ".join(
            f"{name.removesuffix('_micro').replace('_', ' ')} {format_credits(value)}"
            for name, value in figures.items()))
    for scope in ("model", "channel"):
        rows = summary.scoped(scope)
        if not rows:
            continue
        lines.append(f"By {scope}:")
        lines.append(f"  {scope:<28}{'requests':>9}{'credits':>16}{'revenue':>16}{'cost':>16}"
                     f"{'margin':>16}")
        for r in rows:
            lines.append(f"  {r.key[:27]:<28}{r.requests:>9}{format_credits(r.credits_consumed):>16}"
                         f"{format_credits(r.revenue_micro):>16}"
                         f"{format_credits(r.upstream_cost_micro):>16}"
                         f"{format_credits(r.gross_margin_micro):>16}")
    return "\n".join(lines)


def print_rollup(month: str) -> MonthSummary:
    """`python -m apiany finance rollup --month YYYY-MM`: recompute and print."""
    with session_scope() as session:
        summary = rollup_month(session, month)
    print(format_summary(summary))
    return summary
