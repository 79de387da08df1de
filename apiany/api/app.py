"""The FastAPI app mounted into Reflex (`rx.App(api_transformer=create_api())`).
A factory: a module-level instance breaks a second app build in one process."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from apiany.api import auth, management
from apiany.api import payments as payments_api
from apiany.api import webhooks
from apiany.api.limits import MANAGEMENT_LIMIT, BodyLimitMiddleware
from apiany.api.v1 import create_v1_router
from apiany.core.errors import APIAnyError
from apiany.core.settings import get_settings
from apiany.gateway.pipeline import Gateway


def _field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def create_api(gateway: Gateway | None = None, lifespan=None) -> FastAPI:
    settings = get_settings()
    api = FastAPI(title="APIAny", version="1.0", docs_url="/api/docs", openapi_url="/api/openapi.json",
                  description="OpenAI-compatible /v1 proxy and the APIAny management API.",
                  lifespan=lifespan)
    api.state.gateway = gateway = gateway or Gateway(settings)
    api.add_middleware(BodyLimitMiddleware, default_limit=MANAGEMENT_LIMIT,
                       webhook_limit=settings.max_request_bytes)

    @api.get("/healthz", tags=["health"])
    async def healthz() -> dict:
        return {"status": "ok"}

    @api.exception_handler(APIAnyError)
    async def _apiany_error(request: Request, exc: APIAnyError):
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @api.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = _field(first.get("loc", ()))
        body = APIAnyError(f"{field}: {first.get('msg')}", param=field).body()
        body["error"]["details"] = [{"field": _field(e.get("loc", ())), "message": e.get("msg")}
                                    for e in exc.errors()]
        return JSONResponse(body, status_code=400)

    api.include_router(create_v1_router(gateway))
    api.include_router(auth.router)
    api.include_router(management.router)
    from apiany.api import tasks as task_routes  # media (issue 5): the lead may move these two lines
    from apiany.api.v1_media import create_media_router

    api.include_router(create_media_router(gateway))
    api.include_router(task_routes.router)
    api.include_router(payments_api.router)
    api.include_router(webhooks.router)
    if settings.sandbox:
        from apiany.sandbox import create_sandbox_app

        api.mount("/sandbox", create_sandbox_app())
    return api
