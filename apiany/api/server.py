"""Serving processes. `worker_lifespan` runs in every server worker (the
Reflex app registers it); `create_gateway_server` is an API-only server:
/v1, the management API and the webhooks without the Reflex console, for
deployments that give API traffic its own workers behind the load balancer
(docs/deploy.md): same code path per request, about 70 MB less per worker
(measured: ~100 MB against ~170 MB for a worker of the full app)."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from apiany.gateway.upstream import close_sessions


@asynccontextmanager
async def worker_lifespan(_app=None):
    """At start, move everything loaded so far (for the full app, Reflex's
    page trees: 170,000 objects before it compiles) out of the garbage
    collector's view: a full collection over it takes ~100 ms here, a pause
    every request in flight would wait out. At shutdown, close this
    worker's pooled upstream connections."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        await close_sessions()


def create_gateway_server():
    """ASGI factory for `python -m apiany serve-api` (granian --factory)."""
    from apiany.api.app import create_api
    from apiany.api.v1_fastpath import V1FastPath

    api = create_api(lifespan=worker_lifespan)
    return V1FastPath(api, api.state.gateway)


def serve_api(*, host: str, port: int, workers: int) -> None:
    from granian.constants import Interfaces
    from granian.server import Server

    Server(target="apiany.api.server:create_gateway_server", factory=True, address=host, port=port,
           interface=Interfaces.ASGI, workers=workers).serve()
