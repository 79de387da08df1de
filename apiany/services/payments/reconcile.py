"""`reconcile_orders`: ask the provider about orders pending for too long and
apply what it says through the same code path as the webhook (a synthetic
event with a stable id, so a webhook and the job never both apply it)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import select

from apiany.core.db import session_scope, utcnow
from apiany.models.payments import Order
from apiany.services.payments.base import get_provider
from apiany.services.payments.events import apply_event

from apiany.core.settings import get_settings  # noqa: E402

log = logging.getLogger(__name__)
BATCH = 200


def reconcile_orders(now: datetime | None = None, *, older_than: timedelta | None = None) -> int:
    """Ask the provider about orders pending longer than
    APIANY_RECONCILE_PENDING_MINUTES. Returns how many orders changed state."""
    now = now or utcnow()
    if older_than is None:
        older_than = timedelta(minutes=get_settings().reconcile_pending_minutes)
    with session_scope(readonly=True) as session:
        rows = session.exec(select(Order.id, Order.provider, Order.state)
                            .where(Order.state == "pending", Order.provider == "stripe",
                                   Order.provider_session_id.is_not(None),
                                   Order.updated_at <= now - older_than)
                            .order_by(Order.id).limit(BATCH)).all()
    changed = 0
    for order_id, provider_name, state in rows:
        try:
            with session_scope(readonly=True) as session:
                order = session.get(Order, order_id)
            event = get_provider(provider_name).fetch_order_truth(order)
            if event is None:
                continue
            apply_event(provider_name, event)
            with session_scope(readonly=True) as session:
                changed += session.get(Order, order_id).state != state
        except Exception:  # one bad order must not stop the others
            log.exception("reconcile of order %s failed", order_id)
    return changed
