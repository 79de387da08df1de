"""Serving processes. `worker_lifespan` runs in every server worker (the
Reflex app registers it); `create_gateway_server` is an API-only server:
/v1, the management API and the webhooks without the Reflex console, for
deployments that give API traffic its own workers behind the load balancer
(docs/deploy.md): same code path per request, about 70 MB less per worker
(measured: ~100 MB against ~170 MB for a worker of the full app)."""

from __future__ import annotations

import gc
import os
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
    """ASGI factory for `python -m apiany serve-api` (granian --factory).
    CORS as the full app answers it (Reflex's policy: the origins in
    REFLEX_CORS_ALLOWED_ORIGINS, comma-separated, default any), so browser
    clients see no difference between the two kinds of workers."""
    from starlette.middleware.cors import CORSMiddleware

    from apiany.api.app import create_api
    from apiany.api.v1_fastpath import V1FastPath

    api = create_api(lifespan=worker_lifespan)
    origins = [o.strip() for o in os.environ.get("REFLEX_CORS_ALLOWED_ORIGINS", "*").split(",")
               if o.strip()]
    api.add_middleware(CORSMiddleware, allow_credentials=True, allow_methods=["*"],
                       allow_headers=["*"], allow_origins=origins)
    return V1FastPath(api, api.state.gateway)


def serve_api(*, host: str, port: int, workers: int) -> None:
    from granian.constants import Interfaces
    from granian.server import Server

    from apiany.core.settings import get_settings

    # This process's port: what APIANY_PORT means for the full app (the
    # sandbox mounted here, local URLs), for the workers forked below.
    os.environ["APIANY_PORT"] = str(port)
    get_settings.cache_clear()

    Server(target="apiany.api.server:create_gateway_server", factory=True, address=host, port=port,
           interface=Interfaces.ASGI, workers=workers).serve()
