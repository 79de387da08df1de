"""Operator alerts (ledger mismatches, ...): raised by jobs, listed and
resolved on the admin pages. The same open problem is bumped, not repeated."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from sqlmodel import Session, select

from apiany.core.db import utcnow
from apiany.models.jobs import Alert

_SUBJECT_RE = re.compile(r"\b(?:user|system):[\w-]+|API key #\d+|Lot #\d+|Transaction #\d+")


def subjects_of(lines: list[str]) -> list[str]:
    """The accounts, keys, lots and transactions named in problem sentences."""
    found: dict[str, None] = {}
    for line in lines:
        for match in _SUBJECT_RE.findall(line):
            found.setdefault(match, None)
    return list(found)


def raise_alert(session: Session, *, kind: str, source: str, summary: str, lines: list[str],
                now: datetime | None = None) -> Alert:
    """Open an alert for `lines` (one problem per line), or bump the open
    alert of the same kind describing exactly the same problems."""
    now = now or utcnow()
    details = "\n".join(lines)
    fingerprint = hashlib.sha256(f"{kind}\n{details}".encode()).hexdigest()
    alert = session.exec(select(Alert).where(Alert.kind == kind, Alert.fingerprint == fingerprint,
                                             Alert.resolved_at.is_(None))).first()
    if alert is not None:
        alert.occurrences += 1
        alert.last_seen_at = now
    else:
        alert = Alert(kind=kind, source=source, fingerprint=fingerprint, summary=summary[:500],
                      details=details, subjects=subjects_of(lines), created_at=now,
                      last_seen_at=now)
        session.add(alert)
    session.flush()
    return alert


def open_alerts(session: Session, limit: int = 100) -> list[Alert]:
    return list(session.exec(select(Alert).where(Alert.resolved_at.is_(None))
                             .order_by(Alert.last_seen_at.desc()).limit(limit)))


def resolve_alert(session: Session, alert_id: int, now: datetime | None = None) -> Alert | None:
    alert = session.get(Alert, alert_id)
    if alert is not None and alert.resolved_at is None:
        alert.resolved_at = now or utcnow()
        session.flush()
    return alert
