"""Server-side pagination shared by the usage and ledger pages (a mixin: each
page state gets its own copy of these vars). Only one page of rows is ever in
state; `_reload` is the page's query."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import reflex as rx

from apiany.ui.state.auth import SessionState

PAGE_SIZE = 25


def collect_pages(fetch: Callable[[int, int], list], *, chunk: int, limit: int) -> list:
    """All rows of a paged query (fetch(limit, offset)), up to `limit`, `chunk` at a time (CSV export)."""
    out: list = []
    while len(out) < limit:
        rows = fetch(chunk, len(out))
        out += rows
        if len(rows) < chunk:
            break
    return out[:limit]


class PagedMixin(rx.State, mixin=True):
    """`filters` holds the filter form's strings (keys = EMPTY_FILTERS); `loaded_for`
    is the user id the rows belong to (see DashboardState)."""

    EMPTY_FILTERS: ClassVar[dict[str, str]] = {}
    page: int = 1
    total: int = 0
    loading: bool = False
    exporting: bool = False
    loaded_for: int = 0
    filters: dict[str, str] = {}

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def total_text(self) -> str:
        return f"{self.total:,} {'row' if self.total == 1 else 'rows'}"

    @rx.var
    def has_prev(self) -> bool:
        return self.page > 1

    @rx.var
    def has_next(self) -> bool:
        return self.page < max(1, -(-self.total // PAGE_SIZE))

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    async def _user_id(self) -> int:
        return (await self.get_state(SessionState)).user_id

    async def _reload(self):  # an async generator in each page state (yields to show `loading`)
        raise NotImplementedError
        yield

    @rx.event
    async def next_page(self):
        if self.page < self.page_count:
            self.page += 1
            async for update in self._reload():
                yield update

    @rx.event
    async def prev_page(self):
        if self.page > 1:
            self.page -= 1
            async for update in self._reload():
                yield update

    @rx.event
    async def apply_filters(self, form: dict):
        self.filters = {k: str(form.get(k, "") or "") for k in self.EMPTY_FILTERS}
        self.page = 1
        async for update in self._reload():
            yield update

    @rx.event
    async def reset_and_load(self):
        """on_load: first page, no filters."""
        self.page, self.filters = 1, dict(self.EMPTY_FILTERS)
        async for update in self._reload():
            yield update
