"""The credit ledger page: the user's transactions with filters, totals per
kind for the period, CSV export and server-side pagination."""

from __future__ import annotations

import asyncio

import reflex as rx

from apiany.core.db import session_scope
from apiany.core.money import format_credits
from apiany.services.ledger_history import KINDS, MAX_PAGE, LedgerFilters, LedgerRow, list_ledger, totals_by_kind
from apiany.ui.state.formatting import csv_text, iso_text, parse_day, signed_credits_text, utc_text
from apiany.ui.state.paging import PAGE_SIZE, PagedMixin, collect_pages

EMPTY_FILTERS = {"kind": "", "since": "", "until": ""}
CSV_LIMIT = 50_000
CSV_HEADER = ["transaction_id", "time_utc", "kind", "amount_credits", "balance_after_credits",
              "reference_type", "reference_id", "memo", "lot_expires_utc"]


def to_filters(form: dict[str, str]) -> LedgerFilters:
    kind = form.get("kind") or None
    return LedgerFilters(kind=kind if kind in KINDS else None, since=parse_day(form.get("since", "")),
                         until=parse_day(form.get("until", ""), end=True))


def reference_link(row: LedgerRow) -> str:
    if row.reference_type in ("request", "task") and row.reference_id:
        return f"/usage/{row.reference_id}"
    if row.reference_type in ("order", "dispute"):
        return "/billing"
    return ""


def ledger_row(row: LedgerRow) -> dict[str, str]:
    return {"id": str(row.transaction_id), "time": iso_text(row.created_at), "kind": row.kind,
            "amount": signed_credits_text(row.amount), "balance_after": format_credits(row.balance_after),
            "reference": f"{row.reference_type} {row.reference_id}".strip() or "—", "link": reference_link(row),
            "memo": row.memo, "lot_expiry": utc_text(row.lot_expires_at)[:10] or "—"}


def query_ledger(user_id: int, filters: LedgerFilters, offset: int, limit: int = PAGE_SIZE):
    """(display rows, total count, totals per kind as text) for one page of the user's ledger."""
    with session_scope() as session:
        rows, total = list_ledger(session, user_id=user_id, filters=filters, limit=limit, offset=offset)
        totals = totals_by_kind(session, user_id=user_id, filters=filters)
    return ([ledger_row(r) for r in rows], total,
            [{"kind": k, "amount": signed_credits_text(v)} for k, v in sorted(totals.items())])


def ledger_csv(user_id: int, filters: LedgerFilters) -> tuple[str, int]:
    """Every filtered row, up to CSV_LIMIT."""
    with session_scope() as session:
        rows = collect_pages(lambda limit, offset: list_ledger(session, user_id=user_id, filters=filters,
                                                               limit=limit, offset=offset)[0],
                             chunk=MAX_PAGE, limit=CSV_LIMIT)
    out = [[r.transaction_id, utc_text(r.created_at), r.kind, format_credits(r.amount),
            format_credits(r.balance_after), r.reference_type, r.reference_id, r.memo, utc_text(r.lot_expires_at)]
           for r in rows]
    return csv_text(CSV_HEADER, out), len(out)


class CreditsState(PagedMixin, rx.State):
    EMPTY_FILTERS = EMPTY_FILTERS
    rows: list[dict[str, str]] = []
    totals: list[dict[str, str]] = []
    kind_options: list[str] = list(KINDS)

    async def _reload(self):
        user_id = await self._user_id()
        self.loading = True
        yield
        self.rows, self.total, self.totals = await asyncio.to_thread(
            query_ledger, user_id, to_filters(self.filters), self.offset)
        self.loading, self.loaded_for = False, user_id

    @rx.event
    async def export_csv(self):
        self.exporting = True
        yield
        data, count = await asyncio.to_thread(ledger_csv, await self._user_id(), to_filters(self.filters))
        self.exporting = False
        yield rx.download(data=data, filename="credits.csv", mime_type="text/csv")
        yield rx.toast.success(f"Exported {count:,} {'row' if count == 1 else 'rows'}")
