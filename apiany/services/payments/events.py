"""Receiving provider events: verify, then store and apply in ONE database
transaction. The unique (provider, event id) row is inserted first; a
duplicate (sequential, or concurrent: the second insert waits on the unique
index and fails once the first commits) changes nothing. An error while
applying rolls everything back, the event row included, so the provider's
retry applies it again from scratch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from apiany.core.db import session_scope, utcnow
from apiany.models.payments import PaymentEvent
from apiany.services.payments.base import get_provider


@dataclass(frozen=True)
class Received:
    event_id: str
    type: str
    status: str  # applied | ignored | duplicate
    order_id: int | None = None
    note: str = ""


def _existing(session: Session, provider: str, event_id: str) -> PaymentEvent | None:
    return session.exec(select(PaymentEvent).where(PaymentEvent.provider == provider,
                                                   PaymentEvent.event_id == event_id)).first()


def _duplicate(event: dict[str, Any], row: PaymentEvent | None) -> Received:
    return Received(event["id"], event["type"], "duplicate", row.order_id if row else None)


def apply_event(provider_name: str, event: dict[str, Any]) -> Received:
    """Store and apply a verified event once (also used by the reconcile job
    with the synthetic events a provider builds from what it fetched)."""
    provider = get_provider(provider_name)
    try:
        with session_scope() as session:
            found = _existing(session, provider_name, event["id"])
            if found is not None:
                return _duplicate(event, found)
            row = PaymentEvent(provider=provider_name, event_id=str(event["id"])[:255],
                               type=str(event["type"])[:100], payload=event,
                               event_created=int(event.get("created") or 0), status="applying")
            session.add(row)
            session.flush()  # claims the id now: a concurrent twin waits here, then fails
            outcome = provider.handle_event(session, event, row)
            row.status, row.note = outcome.status, outcome.note[:500]
            row.order_id, row.applied_at = outcome.order_id, utcnow()
            session.flush()
            return Received(event["id"], event["type"], outcome.status, outcome.order_id,
                            outcome.note)
    except IntegrityError:
        with session_scope(readonly=True) as session:
            found = _existing(session, provider_name, event["id"])
        if found is None:
            raise
        return _duplicate(event, found)


def receive_event(provider_name: str, payload: bytes, headers: dict[str, str]) -> Received:
    """Verify the raw body's signature (BadSignature -> 400), then apply."""
    provider = get_provider(provider_name)
    event = provider.verify_event(payload, {k.lower(): v for k, v in headers.items()})
    return apply_event(provider_name, event)
