"""The outermost ASGI layer in production: POST /v1/chat/completions,
/v1/embeddings and /v1/responses go straight to the gateway; everything else
(and any request a browser sends with an Origin header, which needs CORS)
goes through Reflex's app and the mounted FastAPI app as before. Other
methods on these paths get a 405 in the API's error format.

Why: measured under load, Reflex's and FastAPI's middleware and routing
(eleven ASGI layers between the server and the handler) cost about a fifth
of the gateway's CPU per request. The gateway already answers every error
itself in the OpenAI format, so none of those layers does anything for
these routes.
"""

from __future__ import annotations

import logging

from starlette.requests import Request

from apiany.core.errors import InternalError, MethodNotAllowed
from apiany.gateway.errors import error_response
from apiany.gateway.pipeline import Gateway, new_request_id

log = logging.getLogger("apiany.gateway")

ROUTES = {"/v1/chat/completions": "chat", "/v1/embeddings": "embedding", "/v1/responses": "responses"}


class V1FastPath:
    def __init__(self, app, gateway: Gateway):
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope, receive, send) -> None:
        kind = ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None or scope["method"] == "OPTIONS" or _has_origin(scope):
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":  # the full app would answer with Reflex's 404 page
            exc = MethodNotAllowed(f"{scope['method']} is not supported on {scope['path']}; use POST",
                                   headers={"allow": "POST"})
            await error_response(exc, new_request_id())(scope, receive, send)
            return
        try:
            response = await self.gateway.handle(Request(scope, receive), kind)
        except Exception:  # what ServerErrorMiddleware would do, in the API's error format
            log.exception("unhandled error on %s", scope["path"])
            response = error_response(InternalError("internal error: the request failed on our side"),
                                      new_request_id())
        await response(scope, receive, send)


def _has_origin(scope) -> bool:
    for name, _ in scope["headers"]:
        if name == b"origin":
            return True
    return False
