"""The OpenAI-compatible /v1 routes. Thin: the gateway does the work."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from apiany.core.errors import APIAnyError, NotFound
from apiany.gateway.errors import error_response
from apiany.gateway.pipeline import Gateway, new_request_id
from apiany.gateway.routing import has_route


def create_v1_router(gateway: Gateway) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["v1"])

    @router.post("/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await gateway.handle(request, "chat")

    @router.post("/embeddings")
    async def embeddings(request: Request) -> Response:
        return await gateway.handle(request, "embedding")

    @router.post("/responses")
    async def responses(request: Request) -> Response:
        return await gateway.handle(request, "responses")

    async def _visible_models(request: Request):
        key = await gateway.authenticate(request.headers.get("authorization"))
        catalog = await gateway.cache.catalog()
        # A model no enabled channel can serve (e.g. its vendor key is not set)
        # is not listed: calling it could only fail.
        return [m for m in catalog.models.values()
                if m.is_public and m.status != "unavailable" and has_route(catalog, m)
                and (not key.model_scope or m.public_id in key.model_scope)]

    def _model_object(m) -> dict:
        return {"id": m.public_id, "object": "model", "created": int(m.created_at.timestamp()),
                "owned_by": "apiany", "type": m.request_type, "capabilities": list(m.capabilities),
                "status": m.status}

    @router.get("/models")
    async def list_models(request: Request) -> Response:
        request_id = new_request_id()
        try:
            models = await _visible_models(request)
        except APIAnyError as exc:
            return error_response(exc, request_id)
        data = [_model_object(m) for m in sorted(models, key=lambda m: m.public_id)]
        return JSONResponse({"object": "list", "data": data}, headers={"x-request-id": request_id})

    @router.get("/models/{model_id:path}")
    async def get_model(model_id: str, request: Request) -> Response:
        request_id = new_request_id()
        try:
            for m in await _visible_models(request):
                if m.public_id == model_id:
                    return JSONResponse(_model_object(m), headers={"x-request-id": request_id})
            raise NotFound(f"the model '{model_id}' does not exist", param="model", code="model_not_found")
        except APIAnyError as exc:
            return error_response(exc, request_id)

    return router
