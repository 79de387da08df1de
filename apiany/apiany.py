"""Composition root: the only module that imports api, ui and jobs together."""

from contextlib import asynccontextmanager

import reflex as rx

from apiany.api.app import create_api
from apiany.gateway.upstream import close_sessions
from apiany.ui.pages import dashboard, index, login, signup  # noqa: F401  (registers the pages)


@asynccontextmanager
async def upstream_connections():
    """Close this worker's pooled upstream connections on shutdown."""
    yield
    await close_sessions()


app = rx.App(api_transformer=create_api())
app.register_lifespan_task(upstream_connections)
