"""The sandbox app: an OpenAI-compatible fake upstream (see directives.py for
how a request steers it). Pure ASGI (Starlette), no database."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from apiany.sandbox.common import ApiError, CutMiddleware, SandboxState, api_error_handler
from apiany.sandbox.directives import split_model
from apiany.sandbox.media import media_routes
from apiany.sandbox.text import chat_completions, embeddings, responses

MODELS = ("sandbox-chat", "sandbox-embed", "sandbox-image", "sandbox-tts", "sandbox-stt",
          "sandbox-video")
CREATED = 1_700_000_000


def _model(model_id: str) -> dict:
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": "sandbox"}


async def list_models(request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [_model(m) for m in MODELS]})


async def get_model(request: Request) -> Response:
    model_id = request.path_params["model_id"]
    if split_model(model_id)[0] not in MODELS:
        raise ApiError(404, f"The model '{model_id}' does not exist", param="model")
    return JSONResponse(_model(model_id))


async def stats(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    if request.method == "DELETE":
        state.reset()
    return JSONResponse(state.snapshot())


def create_sandbox_app() -> Starlette:
    """A fresh app with its own call counters. Mount it anywhere: its routes
    are `/v1/...` and `/sandbox/stats` relative to the mount point."""
    routes = [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        *media_routes(),
        Route("/sandbox/stats", stats, methods=["GET", "DELETE"]),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(CutMiddleware)],
                    exception_handlers={ApiError: api_error_handler})
    app.state.sandbox = SandboxState()
    return app


def run(host: str = "127.0.0.1", port: int = 9100) -> None:
    """Serve the sandbox alone (`python -m apiany sandbox`)."""
    import uvicorn

    uvicorn.run(create_sandbox_app(), host=host, port=port, log_level="warning")
