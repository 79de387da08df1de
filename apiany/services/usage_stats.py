"""Per-day usage totals for a user's dashboard chart (one grouped query over
the (user_id, created_at) index; days are UTC dates)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, func, select

from apiany.models import UsageRecord


def daily_usage(session: Session, *, user_id: int, days: int = 30, model: str | None = None,
                today: date | None = None) -> list[dict]:
    """[{'day': date, 'requests': n, 'credits': units}] for each of the last `days` days, oldest first
    (days without requests included, with zeros)."""
    today = today or datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    day = func.date(UsageRecord.created_at)
    query = (select(day, func.count(), func.coalesce(func.sum(UsageRecord.credits_charged), 0))
             .where(UsageRecord.user_id == user_id,
                    UsageRecord.created_at >= datetime(first.year, first.month, first.day, tzinfo=UTC)))
    if model:
        query = query.where(UsageRecord.public_model == model)
    found = {str(d)[:10]: (int(n), int(units)) for d, n, units in session.exec(query.group_by(day)).all()}
    out = []
    for i in range(days):
        d = first + timedelta(days=i)
        n, units = found.get(d.isoformat(), (0, 0))
        out.append({"day": d, "requests": n, "credits": units})
    return out


def models_used(session: Session, *, user_id: int) -> list[str]:
    rows = session.exec(select(UsageRecord.public_model).where(UsageRecord.user_id == user_id).distinct())
    return sorted(m for m in rows if m)


def request_id_for_task(session: Session, *, user_id: int, task_id: str) -> str | None:
    """The request that created one of the user's async tasks (None for anyone else's)."""
    return session.exec(select(UsageRecord.request_id).where(UsageRecord.task_id == task_id,
                                                             UsageRecord.user_id == user_id)).first()
