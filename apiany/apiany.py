"""Composition root: the only module that imports api, ui and jobs together."""

from contextlib import asynccontextmanager

import reflex as rx

from apiany.api.app import create_api
from apiany.api.server import worker_lifespan
from apiany.api.v1_fastpath import V1FastPath
from apiany.core.settings import get_settings
from apiany.jobs.scheduler import JobScheduler
from apiany.ui.pages import dashboard, index, login, signup  # noqa: F401  (registers the pages)
from apiany.ui.pages import credits, docs, keys, models, settings, usage, usage_detail  # noqa: F401  (console)
from apiany.ui.pages import billing, billing_success  # noqa: F401  (payments)
from apiany.ui.pages.admin import orders as admin_orders  # noqa: F401  (payments admin)


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


class APIAnyApp(rx.App):
    """Reflex's app with the /v1 fast path in front (api/v1_fastpath.py)."""

    def __call__(self):
        return V1FastPath(super().__call__(), _api.state.gateway)


_api = create_api()
app = APIAnyApp(api_transformer=_api)
app.register_lifespan_task(worker_lifespan)
app.register_lifespan_task(internal_jobs)
