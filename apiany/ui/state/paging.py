"""Server-side pagination shared by the usage and ledger pages (a mixin: each
page state gets its own copy of these vars). Only one page of rows is ever in
state; `_reload` is the page's query."""

from __future__ import annotations

import reflex as rx

PAGE_SIZE = 25


class PagedMixin(rx.State, mixin=True):
    page: int = 1
    total: int = 0
    loading: bool = False

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

    async def _reload(self):  # overridden by each page state
        raise NotImplementedError

    @rx.event
    async def next_page(self):
        if self.page < self.page_count:
            self.page += 1
            return await self._reload()

    @rx.event
    async def prev_page(self):
        if self.page > 1:
            self.page -= 1
            return await self._reload()
