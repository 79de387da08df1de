"""Body size limits for everything outside /v1 (which applies its own,
per endpoint, and logs a usage row): the management API, auth and webhooks
refuse oversized bodies before reading them into memory."""

from __future__ import annotations

import json

from apiany.core.errors import TooLarge

MANAGEMENT_LIMIT = 1024 * 1024  # JSON bodies of /api/* are small


class BodyLimitMiddleware:
    def __init__(self, app, *, default_limit: int, webhook_limit: int):
        self.app = app
        self.default_limit = default_limit
        self.webhook_limit = webhook_limit

    def _limit(self, path: str) -> int | None:
        if path.startswith(("/v1/", "/sandbox/")) or path == "/v1":
            return None
        return self.webhook_limit if path.startswith("/webhooks/") else self.default_limit

    async def __call__(self, scope, receive, send):
        limit = self._limit(scope.get("path", "")) if scope["type"] == "http" else None
        if limit is None:
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _refuse(send, int(declared), limit)
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(f"request body exceeds the limit of {limit:,} bytes")
            return message

        return await self.app(scope, counted_receive, send)


async def _refuse(send, size: int, limit: int) -> None:
    body = json.dumps(TooLarge(f"request body is {size:,} bytes; the limit is {limit:,} bytes").body()).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
