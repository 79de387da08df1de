"""Composition root: the only module that imports api, ui and jobs together."""

from contextlib import asynccontextmanager

import reflex as rx

from apiany.api.app import create_api
from apiany.core.settings import get_settings
from apiany.gateway.upstream import close_sessions
from apiany.jobs.scheduler import JobScheduler
from apiany.ui.pages import dashboard, index, login, signup  # noqa: F401  (registers the pages)
from apiany.ui.pages import credits, docs, keys, models, settings, usage, usage_detail  # noqa: F401  (console)
from apiany.ui.pages import billing, billing_success  # noqa: F401  (payments)
from apiany.ui.pages.admin import orders as admin_orders  # noqa: F401  (payments admin)


@asynccontextmanager
async def upstream_connections():
    """Close this worker's pooled upstream connections on shutdown."""
    yield
    await close_sessions()


@asynccontextmanager
async def internal_jobs():
    """The job scheduler, when APIANY_JOBS=1 (several workers are safe: each
    due run executes once, see apiany/jobs/runner.py)."""
    scheduler = JobScheduler().start() if get_settings().jobs else None
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.shutdown()


app = rx.App(api_transformer=create_api())
app.register_lifespan_task(upstream_connections)
app.register_lifespan_task(internal_jobs)
