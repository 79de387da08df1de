"""Run the synchronous unit-of-work code (ledger, services) from the async
gateway on a bounded thread pool: one implementation of the business logic,
no async twins."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("apiany.gateway")
_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="apiany-db")
    return _executor


async def run_db(fn: Callable[..., T], /, *args, **kwargs) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), functools.partial(fn, *args, **kwargs))


async def run_db_shielded(fn: Callable[..., T], /, *args, **kwargs) -> T:
    """For writes that must finish even if the client goes away (billing)."""
    return await asyncio.shield(run_db(fn, *args, **kwargs))


_pending: set = set()


def submit_db(fn: Callable[..., T], /, *args, **kwargs) -> None:
    """Fire-and-forget on the pool (kept referenced until done). Used where
    the caller may already be cancelled, e.g. a stream's client went away."""
    future = _pool().submit(fn, *args, **kwargs)
    _pending.add(future)
    future.add_done_callback(_finished)


def _finished(future) -> None:
    _pending.discard(future)
    if future.exception() is not None:
        log.error("background database work failed", exc_info=future.exception())


def drain(timeout: float = 10.0) -> None:
    """Wait for fire-and-forget work (tests, shutdown)."""
    import concurrent.futures

    concurrent.futures.wait(list(_pending), timeout=timeout)
