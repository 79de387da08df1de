"""The usage page: one page of the user's requests at a time (server-side
pagination over the (user_id, created_at) index), filters, CSV export of the
filtered rows and a per-request detail. The owner is SessionState.user_id."""

from __future__ import annotations

import asyncio
import json

import reflex as rx

from apiany.core.db import session_scope
from apiany.core.errors import NotFound
from apiany.core.money import format_credits
from apiany.models import UsageRecord
from apiany.models.catalog import REQUEST_TYPES
from apiany.services.keys import list_keys
from apiany.services.tasks import user_task
from apiany.services.usage import UsageFilters, list_usage, request_story
from apiany.services.usage_stats import request_id_for_task
from apiany.ui.state.auth import SessionState
from apiany.ui.state.formatting import csv_text, iso_text, number_text, parse_day, signed_credits_text, utc_text
from apiany.ui.state.paging import PAGE_SIZE, PagedMixin, collect_pages

STATUSES = ["success", "error", "incomplete", "client_closed", "pending"]
CSV_LIMIT = 50_000
CSV_CHUNK = 1000
CSV_HEADER = ["request_id", "time_utc", "key", "model", "type", "status", "http_status", "latency_ms",
              "prompt_tokens", "completion_tokens", "credits", "error"]
EMPTY_FILTERS = {"since": "", "until": "", "key": "", "model": "", "status": "", "type": ""}


def to_filters(form: dict[str, str], key_ids: dict[str, int]) -> UsageFilters:
    """Browser strings -> UsageFilters. A key name the user does not own matches nothing
    (id -1), and every query is scoped by user id anyway."""
    key = form.get("key") or ""
    return UsageFilters(
        since=parse_day(form.get("since", "")), until=parse_day(form.get("until", ""), end=True),
        api_key_id=(key_ids.get(key, -1) if key else None), model=form.get("model") or None,
        status=form.get("status") or None, request_type=form.get("type") or None)


def usage_row(r: UsageRecord, key_names: dict[int, str]) -> dict[str, str]:
    return {"request_id": r.request_id, "time": iso_text(r.created_at), "key": key_names.get(r.api_key_id, "—"),
            "model": r.public_model, "type": r.request_type, "status": r.status, "http": str(r.http_status),
            "latency": f"{r.latency_ms:,} ms", "credits": format_credits(r.credits_charged),
            "error": r.error_summary}


def key_names(user_id: int) -> dict[int, str]:
    with session_scope() as session:
        return {k.id: k.name for k in list_keys(session, user_id=user_id)}


def query_usage(user_id: int, filters: UsageFilters, offset: int, limit: int = PAGE_SIZE):
    """(rows as display dicts, total) for one page of the user's usage."""
    names = key_names(user_id)
    with session_scope() as session:
        rows, total = list_usage(session, user_id=user_id, filters=filters, limit=limit, offset=offset)
        return [usage_row(r, names) for r in rows], total


def usage_csv(user_id: int, filters: UsageFilters) -> tuple[str, int]:
    """Every filtered row (up to CSV_LIMIT), fetched a chunk at a time."""
    names = key_names(user_id)
    with session_scope() as session:
        rows = collect_pages(lambda limit, offset: list_usage(session, user_id=user_id, filters=filters,
                                                              limit=limit, offset=offset)[0],
                             chunk=CSV_CHUNK, limit=CSV_LIMIT)
        out = [[r.request_id, utc_text(r.created_at), names.get(r.api_key_id, ""), r.public_model, r.request_type,
                r.status, r.http_status, r.latency_ms, r.prompt_tokens, r.completion_tokens,
                format_credits(r.credits_charged), r.error_summary] for r in rows]
    return csv_text(CSV_HEADER, out), len(out)


def request_detail(user_id: int, request_id: str) -> dict | None:
    """The story of one of the user's requests (or of the request that created one of
    their tasks, so ledger rows referencing a task can link here), as display text;
    None if not theirs."""
    with session_scope() as session:
        request_id = request_id_for_task(session, user_id=user_id, task_id=request_id) or request_id
        try:
            story = request_story(session, user_id=user_id, request_id=request_id)
        except NotFound:
            return None
    u = story["usage"]
    task = task_facts(user_id, u["task_id"]) if u["task_id"] else []
    facts = [("Request id", u["request_id"]), ("Time", utc_text(u["created_at"])), ("Model", u["public_model"]),
             ("Type", u["request_type"]), ("Endpoint", u["endpoint"]), ("Streamed", "yes" if u["stream"] else "no"),
             ("Status", f"{u['status']} (HTTP {u['http_status']})"), ("Latency", f"{u['latency_ms']:,} ms"),
             ("Input tokens", number_text(u["prompt_tokens"])), ("Cached tokens", number_text(u["cached_tokens"])),
             ("Output tokens", number_text(u["completion_tokens"])),
             ("Credits charged", format_credits(u["credits_charged"])), ("Attempts", str(u["attempt_count"])),
             ("Task id", u["task_id"] or "—"), *task, ("Error", u["error_summary"] or "—")]
    return {
        "facts": [{"label": k, "value": str(v)} for k, v in facts],
        "attempts": [{"no": str(a["attempt_no"]), "channel": a["channel_name"], "status": a["status"],
                      "http": str(a["http_status"] or "—"), "latency": f"{a['latency_ms']:,} ms",
                      "error": a["error"] or "—"} for a in story["attempts"]],
        "ledger": [{"kind": m["kind"], "amount": signed_credits_text(m["amount"]),
                    "balance_after": format_credits(m["balance_after"]), "time": utc_text(m["created_at"])}
                   for m in story["ledger"]],
        "request_body": _pretty(story["bodies"]["request"]) if story["bodies"] else "",
        "response_body": _pretty(story["bodies"]["response"]) if story["bodies"] else "",
    }


def task_facts(user_id: int, task_id: str) -> list[tuple[str, str]]:
    """Status and progress of the user's own media task (none for anyone else's)."""
    try:
        with session_scope() as session:
            task = user_task(session, user_id, task_id)
            return [("Task status", task.status + (f" (upstream: {task.upstream_status})" if task.upstream_status
                                                   else "")),
                    ("Task progress", f"{100 if task.status == 'completed' else task.progress}%")]
    except NotFound:
        return []


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)[:20000]
    except (ValueError, TypeError):
        return (text or "")[:20000]


def filter_options(user_id: int) -> tuple[list[str], list[str]]:
    from apiany.ui.state.catalog import load_models
    with session_scope() as session:
        keys = sorted({k.name for k in list_keys(session, user_id=user_id)})
    return keys, [m["id"] for m in load_models()]


class UsageState(PagedMixin, rx.State):
    EMPTY_FILTERS = EMPTY_FILTERS
    rows: list[dict[str, str]] = []
    key_options: list[str] = []
    model_options: list[str] = []
    status_options: list[str] = STATUSES
    type_options: list[str] = list(REQUEST_TYPES)

    async def _filters(self, user_id: int) -> UsageFilters:
        ids = {name: kid for kid, name in (await asyncio.to_thread(key_names, user_id)).items()}
        return to_filters(self.filters, ids)

    async def _reload(self):
        user_id = await self._user_id()
        self.loading = True
        yield
        self.rows, self.total = await asyncio.to_thread(query_usage, user_id, await self._filters(user_id),
                                                        self.offset)
        self.loading, self.loaded_for = False, user_id

    @rx.event
    async def load_options(self):
        self.key_options, self.model_options = await asyncio.to_thread(filter_options, await self._user_id())

    @rx.event
    async def export_csv(self):
        user_id = await self._user_id()
        self.exporting = True
        yield
        data, count = await asyncio.to_thread(usage_csv, user_id, await self._filters(user_id))
        self.exporting = False
        yield rx.download(data=data, filename="usage.csv", mime_type="text/csv")
        yield rx.toast.success(f"Exported {count:,} {'row' if count == 1 else 'rows'}")


class RequestDetailState(rx.State):
    loaded_for: int = 0
    found: bool = False
    shown_id: str = ""
    facts: list[dict[str, str]] = []
    attempts: list[dict[str, str]] = []
    ledger: list[dict[str, str]] = []
    request_body: str = ""
    response_body: str = ""

    @rx.event
    async def load(self):
        user_id = (await self.get_state(SessionState)).user_id
        self.shown_id = str(self.router.page.params.get("request_id", ""))[:64]
        detail = await asyncio.to_thread(request_detail, user_id, self.shown_id) if user_id else None
        detail = detail or {}
        self.facts, self.attempts = detail.get("facts", []), detail.get("attempts", [])
        self.ledger = detail.get("ledger", [])
        self.request_body, self.response_body = detail.get("request_body", ""), detail.get("response_body", "")
        self.found, self.loaded_for = bool(detail), user_id
